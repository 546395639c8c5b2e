"""What a notebook's "check my work" cells call: grade one exercise on the student's own host.

The same checks as `grade`, on $LIBVIRT_DEFAULT_URI (read-only), printed in the student's
language. Under nbgrader's autograder (NBGRADER_EXECUTION is set) there is no student host to
read, so the cell says so and returns instead of failing the notebook.
"""
from __future__ import annotations

import os

from grader import labdef
from grader.grading import grade_student
from grader.hostargs import default_uri
from grader.i18n import check_language
from grader.results import ExerciseResult, GRADED

_language: str | None = None

_NOT_HERE = {
    "en": "(check skipped: nbgrader is grading this notebook; `grade {lab}` grades the host)",
    "es": "(comprobación omitida: nbgrader está calificando este cuaderno; `grade {lab}` califica el host)",
}
_NOT_GRADED = {
    "en": "Could not check {exercise}: {error}",
    "es": "No se pudo comprobar {exercise}: {error}",
}


def set_language(lang: str) -> str:
    """The notebook's language setting: 'en' or 'es' for every message printed after it."""
    global _language
    _language = check_language(lang)
    os.environ["LAB_LANG"] = _language
    return _language


def language() -> str:
    return _language or check_language(None)


def check_my_work(lab_id: str, exercise: str, hosts: dict[str, str] | None = None,
                  quiet: bool = False) -> ExerciseResult | None:
    """Grade one exercise now, print 'id: score/max — feedback', and return the result."""
    lang = language()
    if os.environ.get("NBGRADER_EXECUTION"):
        print(_NOT_HERE[lang].format(lab=lab_id))
        return None
    lab = labdef.load(lab_id)
    lab.exercise(exercise)
    uris = hosts or _hosts_from_environment(lab.roles)
    result, _ = grade_student(lab, "me", uris, lang, only=[exercise])
    if result.status != GRADED:
        print(_NOT_GRADED[lang].format(exercise=exercise, error=result.error))
        return None
    ex = result.exercises[0]
    if not quiet:
        mark = "✔" if ex.score == ex.max_score else ("◐" if ex.score else "✘")
        print(f"{mark} {ex.id}: {ex.score}/{ex.max_score} — {ex.feedback}")
    return ex


def _hosts_from_environment(roles: tuple[str, ...]) -> dict[str, str]:
    """Role A is $LAB_URI_A or $LIBVIRT_DEFAULT_URI; other roles come from $LAB_URI_<ROLE>."""
    uris = {}
    for role in roles:
        uri = os.environ.get(f"LAB_URI_{role}")
        if role == "A":
            uri = uri or default_uri()
        if not uri:
            raise RuntimeError(f"set LAB_URI_{role} to the libvirt URI of host {role} (see `lab hosts env`)")
        uris[role] = uri
    return uris
