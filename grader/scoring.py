"""Scoring: run a lab's checks over a student's evidence and turn verdicts into points.

Pure: no libvirt, no I/O. A check that raises scores 0 with a message saying so, and the
student's status becomes 'error' (a crashed check must never look like a pass).
"""
from __future__ import annotations

from grader.checks import Verdict
from grader.evidence import Evidence
from grader.i18n import Message
from grader.labdef import Lab
from grader.results import ERROR, GRADED, UNREACHABLE, ExerciseResult, StudentResult, number


def score(lab: Lab, evidence: Evidence, lang: str = "en", only: list[str] | None = None) -> StudentResult:
    result = StudentResult(student=evidence.student, hosts=dict(evidence.uris), status=GRADED,
                           error=None, score=None, max_score=lab.max_score)
    if evidence.errors:
        kinds = {e["kind"] for e in evidence.errors.values()}
        result.status = UNREACHABLE if kinds == {UNREACHABLE} else ERROR
        result.error = "; ".join(f"host {role}: {e['message']}" for role, e in sorted(evidence.errors.items()))
        return result
    crashed = []
    for ex in lab.exercises:
        if only and ex.id not in only:
            continue
        try:
            verdict = lab.checks[ex.id](evidence)
            if not isinstance(verdict, Verdict):
                raise TypeError(f"check returned {type(verdict).__name__}, not a Verdict")
        except Exception as err:  # noqa: BLE001 - any crash becomes a visible error, never a pass
            crashed.append(f"{ex.id}: {type(err).__name__}: {err}")
            verdict = Verdict(0.0, (Message.of("check-crashed", error=f"{type(err).__name__}: {err}"),))
        result.exercises.append(ExerciseResult(
            id=ex.id, score=number(ex.points * verdict.fraction), max_score=ex.points,
            feedback=" ".join(lab.catalog.render(m, lang) for m in verdict.messages),
            messages=[m.key for m in verdict.messages]))
    result.score = number(sum(e.score for e in result.exercises))
    if crashed:
        result.status, result.error = ERROR, "check crashed: " + "; ".join(crashed)
    return result
