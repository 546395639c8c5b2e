"""Scoring: run a lab's checks over a student's evidence and turn verdicts into points.

Pure: no libvirt, no I/O. A check that fails early (`fail(...)`) gives its verdict; a check that
crashes (a bug, or XML no libvirt would write) scores 0 with a message saying so, and the
student's status becomes 'error': a crashed check must never look like a pass.
"""
from __future__ import annotations

from lxml import etree

from grader.core.checks import Failure, Verdict
from grader.core.evidence import Evidence
from grader.core.i18n import Message
from grader.core.labdef import Lab
from grader.core.results import ERROR, GRADED, UNREACHABLE, ExerciseResult, StudentResult, number
from grader.core.text import one_line


def verdict_of(lab: Lab, exercise_id: str, evidence: Evidence) -> tuple[Verdict, str | None]:
    """The check's verdict, and the one-line reason when it crashed."""
    try:
        verdict = lab.checks[exercise_id](evidence)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"check returned {type(verdict).__name__}, not a Verdict")
        return verdict, None
    except Failure as failure:
        return failure.verdict, None
    except etree.XMLSyntaxError as err:   # the host's fault, not the check's: say so
        reason = one_line(f"the host sent XML that cannot be read: {err}", 200)
        return Verdict(0.0, (Message.of("host-xml-unreadable", error=one_line(err, 160)),)), reason
    except Exception as err:  # noqa: BLE001 - any crash becomes a visible error, never a pass
        reason = one_line(f"{type(err).__name__}: {err}", 200)
        return Verdict(0.0, (Message.of("check-crashed", error=reason),)), reason


def score(lab: Lab, evidence: Evidence, lang: str = "en", only: list[str] | None = None) -> StudentResult:
    result = StudentResult(student=evidence.student, hosts=dict(evidence.uris), status=GRADED,
                           error=None, score=None, max_score=lab.max_score)
    if evidence.errors:
        kinds = {e.get("kind") for e in evidence.errors.values()}
        result.status = UNREACHABLE if kinds == {UNREACHABLE} else ERROR
        result.error = "; ".join(f"host {role}: {e.get('message')}" for role, e in sorted(evidence.errors.items()))
        return result
    crashed = []
    for ex in lab.exercises:
        if only and ex.id not in only:
            continue
        verdict, crash = verdict_of(lab, ex.id, evidence)
        if crash:
            crashed.append(f"{ex.id}: {crash}")
        result.exercises.append(ExerciseResult(
            id=ex.id, score=number(ex.points * verdict.fraction), max_score=ex.points,
            feedback=" ".join(lab.catalog.render(m, lang) for m in verdict.messages),
            messages=[m.key for m in verdict.messages]))
    result.score = number(sum(e.score for e in result.exercises))
    if crashed:
        result.status, result.error = ERROR, "check crashed: " + "; ".join(crashed)
    return result
