"""The lab's scores in nbgrader's gradebook, beside the notebook grades.

The route: nbgrader's own Gradebook API (nbgrader.api.Gradebook), no SQL of ours. A lab graded
from hosts becomes an nbgrader *assignment* named `<lab>-hosts` (e.g. `lab3-hosts`) holding one
notebook of the same name, and each exercise is a grade cell (max score = its points) that is
also a solution cell, so the feedback can hang on it as the cell's comment. Each graded student
gets a submission whose grades carry the score as `auto_score`. Formgrader's "Manage Students"
then lists `lab3-hosts` next to the notebook assignment `lab3`, with the same student ids.

A separate assignment (rather than an extra notebook inside `lab3`) keeps nbgrader's own
`generate_assignment` / `autograde` of the notebook from ever seeing or deleting these cells.
Students who were not graded are left as they were: a host that was off is not a zero.
Running it again updates the scores in place.
"""
from __future__ import annotations

from pathlib import Path

from grader.classroom.roster import Entry
from grader.core.labdef import Lab
from grader.core.results import GRADED, LabRun
from grader.errors import UsageError


def db_url(value: str) -> str:
    """A path to gradebook.db, or any SQLAlchemy URL nbgrader accepts."""
    return value if "://" in value else f"sqlite:///{Path(value).resolve()}"


def assignment_name(lab: Lab) -> str:
    return f"{lab.id}-hosts"


def write(url: str, run: LabRun, lab: Lab, entries: dict[str, Entry] | None = None,
          course_id: str = "default_course") -> int:
    """Write every graded student's scores; returns how many students were written."""
    from nbgrader.api import Gradebook, MissingEntry

    entries = entries or {}
    name = assignment_name(lab)
    _alembic_on_path()
    try:
        gradebook = Gradebook(db_url(url), course_id=course_id)
    except Exception as err:  # noqa: BLE001 - SQLAlchemy raises many kinds; the user gets one line
        raise UsageError(f"cannot open the nbgrader gradebook {url}: {err}") from None
    written = 0
    try:
        gradebook.update_or_create_assignment(name)
        gradebook.update_or_create_notebook(name, name)
        for ex in lab.exercises:
            gradebook.update_or_create_grade_cell(ex.id, name, name, max_score=ex.points, cell_type="code")
            gradebook.update_or_create_solution_cell(ex.id, name, name)
        for result in run.results:
            if result.status != GRADED:
                continue
            entry = entries.get(result.student)
            person = {}
            if entry is not None:
                if entry.email:
                    person["email"] = entry.email
                if entry.name:
                    first, _, last = entry.name.partition(" ")
                    person.update(first_name=first, last_name=last or None)
            gradebook.update_or_create_student(result.student, **person)
            try:
                gradebook.find_submission(name, result.student)
            except MissingEntry:
                gradebook.add_submission(name, result.student)
            for ex in result.exercises:
                grade = gradebook.find_grade(ex.id, name, name, result.student)
                grade.auto_score = float(ex.score)
                grade.manual_score = None
                grade.needs_manual_grade = False
                comment = gradebook.find_comment(ex.id, name, name, result.student)
                comment.auto_comment = ex.feedback
            gradebook.db.commit()
            written += 1
    finally:
        gradebook.close()
    return written


def _alembic_on_path() -> None:
    """nbgrader runs the `alembic` command to create a gradebook; it sits beside our Python."""
    import os
    import sys

    here = os.path.dirname(sys.executable)
    if here not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")


def read_scores(url: str, lab: Lab) -> dict[str, float]:
    """Student -> score of the lab's assignment, as formgrader computes it (for tests and docs)."""
    from nbgrader.api import Gradebook

    name = assignment_name(lab)
    with Gradebook(db_url(url)) as gradebook:
        assignment = gradebook.find_assignment(name)
        return {s.student.id: s.score for s in assignment.submissions}
