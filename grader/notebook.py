"""What a notebook's "check my work" cells call: grade one exercise on the student's own host.

The same checks as `grade`, through the same bounded, read-only reading (grader.reading), on
the hosts the environment names (grader.core.uris: $LAB_URI_<ROLE>, for role A also
$LIBVIRT_DEFAULT_URI), printed in the student's language. Under nbgrader's autograder
(NBGRADER_EXECUTION is set) there is no student host to read, so the cell says so and returns
instead of failing the notebook.
"""
from __future__ import annotations

import os

from grader.core import labdef
from grader.core.i18n import Catalog, ENGINE_CATALOG, check_language
from grader.core.results import GRADED, ExerciseResult
from grader.core.uris import parse_hosts

_language: str | None = None


def set_language(lang: str) -> str:
    """The notebook's language setting: 'en' or 'es' for every message printed after it."""
    global _language
    _language = check_language(lang)
    os.environ["LAB_LANG"] = _language
    return _language


def language() -> str:
    return _language or check_language(None)


def under_autograde() -> bool:
    """nbgrader sets NBGRADER_EXECUTION while it executes a notebook (autograde, validate)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def check_my_work(lab_id: str, exercise: str, hosts: dict[str, str] | None = None,
                  quiet: bool = False) -> ExerciseResult | None:
    """Grade one exercise now, print 'id: score/max — feedback', and return the result."""
    from grader.reading import batch
    from grader.reading.student import Target

    lang = language()
    if under_autograde():
        print(Catalog.load(ENGINE_CATALOG).text("ui-check-skipped", lang, lab=lab_id))
        return None
    lab = labdef.for_environment(os.environ).load(lab_id)
    lab.exercise(exercise)
    uris = hosts or parse_hosts((), lab.roles, os.environ)
    [result] = batch.grade(lab, [Target("me", uris)], lang=lang, only=[exercise])
    if result.status != GRADED:
        print(lab.catalog.text("ui-check-not-graded", lang, exercise=exercise, error=result.error))
        return None
    ex = result.exercises[0]
    if not quiet:
        mark = "✔" if ex.score == ex.max_score else ("◐" if ex.score else "✘")
        print(f"{mark} {ex.id}: {ex.score}/{ex.max_score} — {ex.feedback}")
    return ex
