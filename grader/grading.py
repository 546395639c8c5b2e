"""Grading one student: collect each role's host (read-only), then score the evidence.

A host that cannot be read becomes part of that student's result (unreachable or error);
it never stops the grading of anyone else.
"""
from __future__ import annotations

from grader.collect import collect_host
from grader.errors import HostUnreachable, LabError
from grader.evidence import Evidence
from grader.labdef import Lab
from grader.results import ERROR, UNREACHABLE, StudentResult
from grader.scoring import score


def collect_student(lab: Lab, student: str, uris: dict[str, str], connections=None) -> Evidence:
    """Evidence for one student; `connections` (role -> open connection) skips connecting."""
    evidence = Evidence(lab=lab.id, student=student, hosts={}, uris=dict(uris))
    for role in lab.roles:
        uri = uris[role]
        try:
            conn = (connections or {}).get(role)
            evidence.hosts[role] = collect_host(uri, lab.scope, conn=conn)
        except HostUnreachable as err:
            evidence.errors[role] = {"kind": UNREACHABLE, "message": str(err)}
        except LabError as err:
            evidence.errors[role] = {"kind": ERROR, "message": str(err)}
    return evidence


def grade_student(lab: Lab, student: str, uris: dict[str, str], lang: str = "en",
                  only: list[str] | None = None) -> tuple[StudentResult, Evidence]:
    evidence = collect_student(lab, student, uris)
    return score(lab, evidence, lang, only), evidence
