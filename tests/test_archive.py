"""The run archive: a directory per run with each student's evidence and result and the reports;
regrading it offline gives identical results; --retry-unreachable merges; an interrupted or
failing write never leaves a half-written file; the writer thread archives each student as they
are handed over, and a student whose files cannot be written is that student's error."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from classhelp import HungHost, make_class
from grader.classroom import archive, roster
from grader.core.text import file_name
from grader.core import labdef
from grader import grading
from grader.reading import connection
from grader.cli.main import grade
from grader.errors import EnvironmentProblem

LAB = labdef.load("lab3")


def run_cli(*args):
    return CliRunner(env={"COLUMNS": "200"}).invoke(grade, list(args), catch_exceptions=False)


def only_run(parent):
    [run] = [p for p in parent.iterdir() if p.is_dir()]
    return run


def test_a_run_directory_holds_evidence_results_and_reports(tmp_path):
    path = make_class(tmp_path, ["right", "live-disk-only"], extra={"off": "test+tcp://127.0.0.1:1/x.xml"})
    result = run_cli("lab3", "--roster", str(path), "--out", str(tmp_path / "runs"))
    assert result.exit_code == 1
    run = only_run(tmp_path / "runs")
    assert run.name.startswith("lab3-")
    names = {p.name for p in run.iterdir()}
    assert {"run.json", "evidence", "results", "feedback", "report.html", "grades.csv",
            "results.json", "summary.txt"} <= names
    assert sorted(p.name for p in (run / "evidence").iterdir()) == ["off.json", "s0-right.json",
                                                                    "s1-live-disk-only.json"]
    meta = json.loads((run / "run.json").read_text())
    assert (meta["state"], meta["graded"], meta["not_graded"]) == ("complete", 2, 1)
    assert "s1-live-disk-only" in (run / "summary.txt").read_text()
    assert not [p for p in run.rglob(".*.tmp")]


def test_regrading_a_run_directory_offline_gives_identical_results(tmp_path):
    states = ["right", "clean-running", "revert-skipped", "recreated", "untouched"]
    path = make_class(tmp_path, states, extra={"off": "test+tcp://127.0.0.1:1/x.xml"})
    run_cli("lab3", "--roster", str(path), "--out", str(tmp_path / "runs"))
    run = only_run(tmp_path / "runs")
    for host in (tmp_path / "hosts").iterdir():  # the hosts are gone: only the evidence is left
        host.unlink()
    again = run_cli("lab3", "--from-evidence", str(run), "--format", "json")
    assert again.exit_code == 1  # "off" is still not graded
    assert json.loads(again.stdout) == json.loads((run / "results.json").read_text())


def test_regrading_a_run_of_another_lab_is_refused(tmp_path):
    path = make_class(tmp_path, ["right"])
    run_cli("lab3", "--roster", str(path), "--out", str(tmp_path / "runs"))
    run = only_run(tmp_path / "runs")
    result = run_cli("lab2", "--from-evidence", str(run))
    assert result.exit_code == 2 and "is a run of lab3, not lab2" in result.stderr


def test_retry_unreachable_grades_only_those_and_merges(tmp_path):
    path = make_class(tmp_path, ["right", "untouched"])
    late = tmp_path / "hosts" / "late.xml"
    with path.open("a") as roster_file:
        roster_file.write(f"late,test://{late},late@uni.es\n")
    first = run_cli("lab3", "--roster", str(path), "--out", str(tmp_path / "runs"))
    assert first.exit_code == 1  # late's host file does not exist yet: unreachable
    late.write_text(make_class.__globals__["simclass"].host_xml("no-external"))
    (tmp_path / "hosts" / "right-0.xml").write_text("broken")  # would fail if regraded
    second = run_cli("lab3", "--roster", str(path), "--retry-unreachable", "--format", "json",
                     "--out", str(tmp_path / "runs"))
    assert second.exit_code == 0, second.stderr
    results = json.loads(second.stdout)["results"]
    assert [(r["student"], r["status"], r["score"]) for r in results] == [
        ("s0-right", "graded", 10), ("s1-untouched", "graded", 0), ("late", "graded", 8)]
    assert "retried 1, kept 2" in second.stderr
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2
    assert json.loads((runs[1] / "run.json").read_text())["retry_of"] == str(runs[0])
    assert (runs[1] / "evidence" / "s0-right.json").read_text() == (runs[0] / "evidence" / "s0-right.json").read_text()


def test_retry_without_an_earlier_run_says_what_to_do(tmp_path):
    path = make_class(tmp_path, ["right"])
    result = run_cli("lab3", "--roster", str(path), "--retry-unreachable", "--out", str(tmp_path / "runs"))
    assert result.exit_code == 2 and "no earlier run of lab3" in result.stderr


def test_an_interrupted_run_leaves_complete_files_for_those_already_graded(tmp_path):
    path = make_class(tmp_path, ["right"] * 6)
    target = archive.RunDir.create(tmp_path / "runs", "lab3")
    written = []

    def on_result(result, evidence):
        if len(written) == 3:
            raise KeyboardInterrupt  # Ctrl-C arrives while the fourth is being written
        target.write_student(result, evidence)
        written.append(result.student)
        return result

    with pytest.raises(KeyboardInterrupt):
        grading.grade_many(LAB, roster.load(path, LAB.roles).entries, connection.Limits(jobs=1),
                    on_graded=on_result)
    files = sorted(p.name for p in target.results_dir.iterdir())
    assert files == sorted(f"{s}.json" for s in written)
    for student in written:  # complete, parseable, and with their evidence beside them
        assert json.loads((target.results_dir / f"{student}.json").read_text())["score"] == 10
        assert json.loads((target.evidence_dir / f"{student}.json").read_text())["student"] == student
    assert not list(target.path.rglob(".*.tmp"))


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    path.write_text("old, complete")
    real_open = open

    class FullDisk:
        def __init__(self, *args):
            self.handle = real_open(*args)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("builtins.open", FullDisk)
    with pytest.raises(EnvironmentProblem, match="No space left on device"):
        archive.atomic_write(path, "new " * 1000)
    monkeypatch.undo()
    assert path.read_text() == "old, complete"
    assert os.listdir(tmp_path) == ["results.json"]


def test_student_ids_become_safe_file_names():
    assert file_name("ana.ruiz@uni.es") == "ana.ruiz@uni.es"
    risky = file_name("../../etc/passwd")
    assert "/" not in risky and not risky.startswith(".")
    assert file_name("a b") != file_name("a_b")


# --- the writer thread ---------------------------------------------------------------------------

def graded_class(tmp_path, states):
    """(result, evidence) of a simulated class, graded without archiving."""
    kept = []
    grading.grade_many(LAB, roster.load(make_class(tmp_path, states), LAB.roles).entries,
                       on_graded=lambda r, ev: kept.append((r, ev)) or r)
    return kept


def feedback_of(result):
    return [(f"feedback/{file_name(result.student)}.md", f"{result.student}: {result.status}\n")]


def test_the_writer_archives_each_student_in_the_order_handed_over(tmp_path):
    graded = graded_class(tmp_path, ["right", "untouched", "no-external"])
    target = archive.RunDir.create(tmp_path / "runs", "lab3")
    seen = []
    with archive.StudentWriter(target, feedback_of, on_archived=lambda r: seen.append(r.student)) as writer:
        for result, evidence in reversed(graded):
            writer.put(result, evidence)
    assert seen == [r.student for r, _ in reversed(graded)]
    for result, evidence in graded:
        assert writer.archived[result.student] is result
        saved = json.loads((target.results_dir / f"{result.student}.json").read_text())
        assert saved == json.loads(json.dumps(result.to_dict()))
        assert json.loads(target.evidence_path(result.student).read_text()) == json.loads(json.dumps(evidence.to_dict()))
        assert (target.feedback_dir / f"{result.student}.md").read_text() == f"{result.student}: graded\n"
    assert not list(target.path.rglob(".*.tmp"))


def test_a_student_whose_files_cannot_be_written_is_that_students_error(tmp_path):
    graded = graded_class(tmp_path, ["right", "untouched", "no-external"])
    target = archive.RunDir.create(tmp_path / "runs", "lab3")
    unlucky = graded[1][0].student
    target.evidence_path(unlucky).mkdir(parents=True)      # a folder where their evidence goes
    with archive.StudentWriter(target, feedback_of) as writer:
        for result, evidence in graded:
            writer.put(result, evidence)
    failed = writer.archived[unlucky]
    assert failed.status == "error" and failed.score is None
    assert failed.error.startswith(f"could not archive this student: cannot write {target.evidence_path(unlucky)}")
    assert json.loads((target.results_dir / f"{unlucky}.json").read_text())["status"] == "error"
    assert (target.feedback_dir / f"{unlucky}.md").read_text() == f"{unlucky}: error\n"
    others = [r for r, _ in graded if r.student != unlucky]
    assert [writer.archived[r.student].status for r in others] == ["graded", "graded"]


def test_ctrl_c_stops_the_writer_after_the_file_it_is_writing(tmp_path):
    graded = graded_class(tmp_path, ["right"] * 4)
    target = archive.RunDir.create(tmp_path / "runs", "lab3")
    writing, go = threading.Event(), threading.Event()

    def slow_feedback(result):          # the first student's files are being written at Ctrl-C
        writing.set()
        go.wait(10)
        return feedback_of(result)

    with pytest.raises(KeyboardInterrupt):
        with archive.StudentWriter(target, slow_feedback) as writer:
            for result, evidence in graded:
                writer.put(result, evidence)
            writing.wait(10)
            threading.Timer(0.2, go.set).start()
            raise KeyboardInterrupt
    first = graded[0][0].student
    assert sorted(p.name for p in target.results_dir.iterdir()) == [f"{first}.json"]
    assert sorted(p.name for p in target.evidence_dir.iterdir()) == [f"{first}.json"]
    assert json.loads((target.results_dir / f"{first}.json").read_text())["score"] == 10
    assert list(writer.archived) == [first] and not list(target.path.rglob(".*.tmp"))


def test_a_class_run_cut_short_says_interrupted_and_keeps_complete_files(tmp_path):
    with HungHost() as hung:       # everyone else is graded and archived while zed's host hangs
        path = make_class(tmp_path, ["right", "untouched", "no-external"], extra={"zed": hung.uri()})
        grade_cmd = str(Path(sys.executable).with_name("grade"))
        proc = subprocess.Popen([grade_cmd, "lab3", "--roster", str(path), "--connect-timeout", "60",
                                 "--timeout", "60", "--out", str(tmp_path / "runs")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = list((tmp_path / "runs").glob("lab3-*/results/*.json"))
            if len(runs) == 3:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130 and err.endswith("interrupted\n"), err
    run = only_run(tmp_path / "runs")
    assert json.loads((run / "run.json").read_text())["state"] == "interrupted"
    for result in (run / "results").iterdir():      # complete, with their evidence beside them
        student = json.loads(result.read_text())["student"]
        assert json.loads((run / "evidence" / result.name).read_text())["student"] == student
    assert sorted(p.name for p in (run / "results").iterdir()) == [
        "s0-right.json", "s1-untouched.json", "s2-no-external.json"]
    assert not (run / "report.html").exists() and not list(run.rglob(".*.tmp"))
