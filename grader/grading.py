"""Grading: read a student's hosts, then score what was read. The one place that joins the two.

Reading (grader.reading) returns evidence and knows nothing of checks; scoring (grader.core.
scoring) takes evidence and knows nothing of hosts. `grade_many` joins them for a class (grader.
classroom.session) and each poll of a watched one (grader.classroom.watch); `grade_one` for one
student (`grade --host`, a "check my work" cell). Each result is handed, with its evidence, to
`on_graded` as it arrives (to be archived at once). Whatever goes wrong while one student's
evidence is scored or handled becomes that student's `error`, never the class's.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

from grader.core.evidence import Evidence
from grader.core.labdef import Lab
from grader.core.results import ERROR, StudentResult
from grader.core.scoring import score
from grader.errors import one_line
from grader.reading import batch
from grader.reading.limits import Limits
from grader.reading.student import Target

#: Called with each result and its evidence as they arrive; returns the result to keep (the
#: same one, or one that says what went wrong while handling it, e.g. archiving).
OnGraded = Callable[[StudentResult, Evidence], StudentResult]


def grade_many(lab: Lab, targets: Sequence[Target], limits: Limits = Limits(), lang: str = "en",
               only: list[str] | None = None, on_graded: OnGraded | None = None,
               connections: batch.ConnectionCache | None = None,
               expected: Mapping[str, str] | None = None) -> list[StudentResult]:
    """Read and score every target; the results in target order."""
    results: dict[int, StudentResult] = {}
    for index, evidence in batch.read_many(lab, targets, limits, connections):
        evidence.expected = dict(expected or {})
        results[index] = _scored(lab, targets[index], evidence, lang, only, on_graded)
    return [results[i] for i in range(len(targets))]


def grade_one(lab: Lab, target: Target, limits: Limits = Limits(), lang: str = "en",
              only: list[str] | None = None,
              expected: Mapping[str, str] | None = None) -> tuple[StudentResult, Evidence]:
    """One student, read and scored now: the result and the evidence it was scored from."""
    kept: list[Evidence] = []
    [result] = grade_many(lab, [target], limits, lang, only, lambda r, ev: kept.append(ev) or r,
                          expected=expected)
    return result, kept[0]


def _scored(lab: Lab, target: Target, evidence: Evidence, lang: str, only, on_graded) -> StudentResult:
    try:
        result = score(lab, evidence, lang, only)
        return on_graded(result, evidence) if on_graded else result
    except Exception as err:  # noqa: BLE001 - one student's crash is that student's result
        message = one_line(f"could not process what the host sent: {type(err).__name__}: {err}")
        evidence = batch.error_evidence(lab, target, {lab.roles[0]: {"kind": ERROR, "message": message}})
        result = score(lab, evidence, lang, only)
        return on_graded(result, evidence) if on_graded else result
