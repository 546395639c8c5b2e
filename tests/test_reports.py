"""What instructors and students see: the class summary, the Moodle CSV, the HTML report, one
feedback file per student, the nbgrader gradebook, and progress lines."""
from __future__ import annotations

import base64
import csv
import io
import re

from classhelp import make_class
from grader.classroom import gradebook, roster
from grader.core import labdef
from grader import grading
from grader.classroom.progress import ClassProgress
from grader import render
from grader.core.results import LabRun
from grader.render import feedback, html

LAB = labdef.load("lab3")


def report(run, emails=None, **how):
    return render.Report(run, LAB, emails or {}, **how)


def class_run(tmp_path, lang="en", emails=True):
    path = make_class(tmp_path, ["right", "clean-running", "untouched"],
                      extra={"zoe": "test+tcp://127.0.0.1:1/x.xml"})
    entries = roster.load(path, LAB.roles).entries
    results = grading.grade_many(LAB, entries, lang=lang)
    run = LabRun(lab="lab3", max_score=10, lang=lang, results=results)
    return run, {e.student: (e.email if emails else None) for e in entries}, entries


def test_summary_has_a_row_per_student_and_a_column_per_exercise(tmp_path):
    run, _, _ = class_run(tmp_path)
    text = render.render("table", report(run, width=200))
    header = next(line for line in text.splitlines() if "snap-offline" in line)
    assert all(ex.id in header for ex in LAB.exercises)
    assert re.search(r"s1-clean-running\s+│\s+0\s+│\s+3\s+│\s+3\s+│\s+2\s+│\s+8", text)
    assert "zoe: unreachable: host A: cannot connect" in text
    assert "3 of 4 graded; mean 6/10" in text
    assert "s1-clean-running" in render.render("text", report(run))


def test_moodle_csv_identifier_exercises_total_and_no_grade_for_the_unreachable(tmp_path):
    run, emails, _ = class_run(tmp_path)
    rows = list(csv.reader(io.StringIO(render.render("csv", report(run, emails)))))
    assert rows[0] == ["Email address", "lab3 snap-offline", "lab3 snap-live", "lab3 snap-revert",
                       "lab3 snap-external", "lab3 total"]
    assert rows[1] == ["s0-right@example.org", "2", "3", "3", "2", "10"]
    assert rows[2] == ["s1-clean-running@example.org", "0", "3", "3", "2", "8"]
    assert rows[4] == ["zoe@example.org", "", "", "", "", ""]  # empty: Moodle imports no grade
    no_email = render.render("csv", report(run, {r.student: None for r in run.results}))
    assert no_email.splitlines()[0].startswith("Username,") and "\ns0-right," in no_email


def test_html_report_is_self_contained_with_pass_rates_histogram_and_feedback(tmp_path):
    run, _, _ = class_run(tmp_path)
    run.results[1].exercises[0].feedback = "<script>alert(1)</script> took it running"
    page = render.render("html", report(run))
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    svg = base64.b64decode(re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', page).group(1)).decode()
    assert svg.startswith("<svg") and 'width="600"' in svg  # an <img> needs a size to show
    graded_totals = [r.score for r in run.results if r.status == "graded"]
    for total in set(graded_totals):  # one bar per score, its height the number of students
        assert f"<title>{int(total)}: {graded_totals.count(total)}</title>" in svg
    assert "http://" not in page and "https://" not in page  # nothing to fetch: opens from disk
    rates = {r["id"]: r for r in html.pass_rates(run, LAB)}
    assert round(rates["snap-offline"]["full"], 2) == 0.33  # 1 of the 3 graded
    assert rates["snap-live"]["full"] == 2 / 3
    for result in run.results:
        assert f"{result.student}" in page
    assert "zoe" in page and "unreachable" in page
    spanish = render.render("html", report(LabRun("lab3", 10, "es", run.results)))
    assert "Aprobados por ejercicio" in spanish and '<html lang="es">' in spanish
    assert "inaccesible" in spanish                      # a status a Spanish reader understands
    assert "<code>lab3-vm</code>" in page and "`lab3-vm`" not in page  # backticks read as code


def test_feedback_files_hold_nothing_about_other_students(tmp_path):
    run, _, _ = class_run(tmp_path, lang="es")
    others = {r.student for r in run.results}
    for result in run.results:
        text = feedback.student(report(run), result)
        assert result.student in text
        assert not [o for o in others - {result.student} if o in text]
        assert "media" not in text  # no class statistics either
    graded = feedback.student(report(run), run.results[1])
    assert "**Nota: 8 / 10**" in graded and "| snap-offline | 0 / 2 |" in graded
    assert "Sin calificar" in feedback.student(report(run), run.results[3])


def test_scores_land_in_the_nbgrader_gradebook_as_an_assignment(tmp_path):
    from nbgrader.api import Gradebook

    run, _, entries = class_run(tmp_path)
    db = tmp_path / "gradebook.db"
    by = {e.student: e for e in entries}
    assert gradebook.write(str(db), run, LAB, by) == 3  # "zoe" was not graded: left alone
    assert gradebook.read_scores(str(db), LAB) == {"s0-right": 10.0, "s1-clean-running": 8.0,
                                                   "s2-untouched": 0.0}
    with Gradebook(f"sqlite:///{db}") as gb:
        assert gb.find_assignment("lab3-hosts").max_score == 10
        assert gb.find_student("s0-right").email == "s0-right@example.org"
        comment = gb.find_comment("snap-offline", "lab3-hosts", "lab3-hosts", "s1-clean-running")
        assert "running" in comment.auto_comment.lower()
    run.results[2].exercises[0].score = 2  # graded again later: updated in place, not duplicated
    gradebook.write(str(db), run, LAB, by)
    assert gradebook.read_scores(str(db), LAB)["s2-untouched"] == 2.0


def test_progress_without_a_terminal_is_one_plain_line_per_student(tmp_path):
    run, _, _ = class_run(tmp_path)
    stream = io.StringIO()
    with ClassProgress(len(run.results), "lab3", stream) as progress:
        for result in run.results:
            progress.update(result)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[1/4] s0-right: 10/10"
    assert lines[3].startswith("[4/4] zoe: unreachable: host A: cannot connect")
    assert progress.line() == "lab3: 3 graded, 1 unreachable, 0 error(s) of 4"


def test_progress_on_a_terminal_is_a_bar_with_the_unreachable_count(tmp_path):
    run, _, _ = class_run(tmp_path)
    stream = io.StringIO()
    with ClassProgress(len(run.results), "lab3", stream, terminal=True) as progress:
        for result in run.results:
            progress.update(result)
    out = stream.getvalue()
    assert "4/4" in out and "1 unreachable" in out and "[1/4]" not in out
