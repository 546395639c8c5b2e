"""The instructor's nbgrader workflow, end to end, with nbgrader's own commands (course.md, part 7).

Two courses in temporary copies of the course directory, one in English (the default) and one in
Spanish (course.toml's `lang`): generate_assignment and release_assignment for every lab that has a
notebook (plus the small lab0), fetch and submit through a temporary exchange (and submissions
copied into submitted/), collect, autograde, generate_feedback. Then: each release is in one
language only; the knowledge exercises score full marks for the solutions and none for the
untouched release; and autograde, run with a shell that names a real libvirt host (a lab host of
this module's own, prepared with lab2 and lab3), leaves that host exactly as it was.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from grader import labhosts as lab_hosts
from grader.cli.main import lab
from grader.core.i18n import Catalog, ENGINE_CATALOG
from grader.course.bilingual import CHOICE, cell_languages
from hostdump import host_dump
from nbgrader_course import STUDENTS, run_workflow

pytestmark = [pytest.mark.slow, pytest.mark.labhost]

#: A lab host of this module's own: nobody else's tests change it while autograde runs.
GUARD_HOST = "nbguard"
SKIPPED = Catalog.load(ENGINE_CATALOG).entries["ui-host-cell-skipped"]


def _lab(*args: str) -> None:
    result = CliRunner().invoke(lab, list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def guard(labhosts):
    """The instructor's shell names this host; lab2 and lab3 are ready on it, so a notebook that
    reached it would create volumes and take lab3's snapshots."""
    host = next(h for h in lab_hosts.up([GUARD_HOST]) if h.name == GUARD_HOST)
    env = {"LIBVIRT_DEFAULT_URI": host.uri, "LAB_URI_A": host.uri, "LAB_URI_B": host.uri}
    try:
        for lab_id in ("lab2", "lab3"):
            _lab("start", lab_id, "--host", host.uri)
        yield env
    finally:
        lab_hosts.down([GUARD_HOST], purge=True)   # `lab hosts list` shows only a and b again


@pytest.fixture(scope="module")
def runs(guard, tmp_path_factory):
    before = host_dump(guard["LIBVIRT_DEFAULT_URI"])
    folders = {lang: tmp_path_factory.mktemp(f"nbgrader-{lang}") for lang in ("en", "es")}
    with ThreadPoolExecutor(max_workers=2) as pool:   # two independent courses: nbgrader waits on kernels
        futures = {lang: pool.submit(run_workflow, folder, lang, host_env=guard) for lang, folder in folders.items()}
        courses = {lang: future.result() for lang, future in futures.items()}
    return courses, before, host_dump(guard["LIBVIRT_DEFAULT_URI"])


@pytest.fixture(scope="module", params=["en", "es"])
def course(runs, request):
    return runs[0][request.param]


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_every_lab_with_a_notebook_is_an_assignment(course):
    released = {p.name for p in (course.exchange / "kvm-storage" / "outbound").iterdir()}
    assert released == set(course.assignments)
    assert "lab0" in released and len(released) > 1


def test_the_release_is_in_the_course_language_only(course):
    for assignment in course.assignments:
        nb = course.autograded(assignment, "wrong")
        markdown = [c for c in nb.cells if c.cell_type == "markdown"]
        assert markdown and all(cell_languages(c) == [course.lang] for c in markdown), assignment
        assert not any(CHOICE in c.metadata.get("tags", []) for c in nb.cells), assignment
        settings = [c.source for c in _code_cells(nb) if c.source.startswith("LANG =")]
        assert settings and settings[0].startswith(f'LANG = "{course.lang}"'), assignment
        stub = "TU CÓDIGO AQUÍ" if course.lang == "es" else "YOUR CODE HERE"
        assert stub in "\n".join(c.source for c in _code_cells(nb)), assignment


def test_the_knowledge_exercises_score_full_marks_for_solutions_and_none_for_the_release(course):
    scores = course.scores()
    for assignment in course.assignments:
        right, maximum = scores[assignment, "right"]
        assert maximum > 0 and right == maximum, f"{assignment} ({course.lang}): the solutions score {right}/{maximum}"
        assert scores[assignment, "wrong"][0] == 0, f"{assignment} ({course.lang}): the release scores above 0"
    assert scores["lab0", "right"] == (2, 2)


def test_check_my_work_cells_say_they_were_skipped_under_autograde(course):
    skipped = {"en": "check skipped", "es": "comprobación omitida"}[course.lang]
    for assignment in course.assignments:
        for student in STUDENTS:
            cells = [c for c in _code_cells(course.autograded(assignment, student))
                     if "check_my_work(" in c.source and "import" not in c.source]
            for cell in cells:
                text = json.dumps(cell.outputs, ensure_ascii=False)
                assert skipped in text, f"{assignment} ({student}): {cell.source!r} -> {text}"
            if assignment == "lab0":
                assert cells, "lab0 has a check-my-work cell"


def test_every_host_cell_prints_one_line_that_it_was_skipped(course):
    expected = SKIPPED[course.lang]
    for assignment in course.assignments:
        for student in STUDENTS:
            for cell in _code_cells(course.autograded(assignment, student)):
                if cell.source.startswith("%%host"):
                    # the kernel may send one print in several stream messages: join them
                    kinds = {o.output_type for o in cell.outputs}
                    text = "".join(o.get("text", "") for o in cell.outputs)
                    assert kinds == {"stream"} and text == expected + "\n", \
                        f"{assignment} ({student}): {cell.source[:60]!r} -> {cell.outputs}"


def test_the_solved_notebooks_run_under_autograde_without_any_error(course):
    """Host cells are skipped and every other cell runs: nothing fails for lack of a host."""
    for assignment in course.assignments:
        errors = [f"{o.ename}: {o.evalue}" for c in _code_cells(course.autograded(assignment, "right"))
                  for o in c.outputs if o.output_type == "error"]
        assert errors == [], f"{assignment} ({course.lang}): {errors}"


def test_autograde_leaves_the_host_of_the_instructors_shell_unchanged(runs):
    _, before, after = runs
    assert any(key.startswith("domain lab3-vm") for key in before)
    assert not any(key.startswith("snapshot ") for key in before)
    assert after == before


def test_feedback_html_is_written_for_every_submission(course):
    for assignment in course.assignments:
        for student in STUDENTS:
            html = course.feedback(assignment, student).read_text()
            assert "<html" in html and assignment in html
    assert "Score: 2.0 / 2.0" in course.feedback("lab0", "right").read_text()
    assert "Score: 0.0 / 2.0" in course.feedback("lab0", "wrong").read_text()
