"""The instructor's nbgrader workflow, end to end, with nbgrader's own commands (course.md, part 6).

One run in a temporary copy of the course directory: generate_assignment and release_assignment for
every lab that has a notebook (plus the small lab0), fetch and submit through a temporary exchange (and
submissions copied into submitted/), collect, autograde, generate_feedback. Then the knowledge exercises' scores:
full marks for the solutions, in English or in the Spanish copy, none for the untouched release.
"""
from __future__ import annotations

import json

import pytest

from nbgrader_course import STUDENTS, run_workflow

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return run_workflow(tmp_path_factory.mktemp("nbgrader"))


def test_every_lab_with_a_notebook_is_an_assignment(course):
    released = {p.name for p in (course.exchange / "kvm-storage" / "outbound").iterdir()}
    assert released == set(course.assignments)
    assert "lab0" in released


def test_the_knowledge_exercises_score_full_marks_for_solutions_and_none_for_the_release(course):
    scores = course.scores()
    for assignment in course.assignments:
        right, maximum = scores[assignment, "right"]
        assert right == maximum, f"{assignment}: the solutions score {right}/{maximum}"
        assert scores[assignment, "spanish"] == (maximum, maximum), f"{assignment}: the Spanish copy"
        assert scores[assignment, "wrong"][0] == 0, f"{assignment}: the release scores above 0"
    assert scores["lab0", "right"] == (2, 2)


def test_check_my_work_cells_say_they_were_skipped_under_autograde(course):
    for assignment in course.assignments:
        for student in STUDENTS:
            cells = [c for c in course.autograded(assignment, student).cells
                     if c.cell_type == "code" and "check_my_work(" in c.source
                     and "import" not in c.source]
            for cell in cells:
                text = json.dumps(cell.outputs, ensure_ascii=False)
                errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
                assert "check skipped" in text or "comprobación omitida" in text, (
                    f"{assignment} ({student}): a check-my-work cell did not reach check_my_work under "
                    f"autograde, so autograding needs the student's host: {cell.source!r} -> {errors}")
                assert "grader/notebook.py" not in text, f"check_my_work raised in {assignment}"
            if assignment == "lab0":
                assert cells, "lab0 has a check-my-work cell"


def test_the_spanish_copy_autograded_has_only_spanish_cells_and_the_language_set(course):
    nb = course.autograded("lab0", "spanish")
    tags = [t for c in nb.cells for t in c.metadata.get("tags", [])]
    assert "lang-es" in tags and "lang-en" not in tags
    assert 'LANG = "es"' in nb.cells[1].source
    assert "comprobación omitida" in json.dumps([c.get("outputs", []) for c in nb.cells], ensure_ascii=False)


def test_feedback_html_is_written_for_every_submission(course):
    for assignment in course.assignments:
        for student in STUDENTS:
            html = course.feedback(assignment, student).read_text()
            assert "<html" in html and assignment in html
    assert "Score: 2.0 / 2.0" in course.feedback("lab0", "right").read_text()
    assert "Score: 0.0 / 2.0" in course.feedback("lab0", "wrong").read_text()
