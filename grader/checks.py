"""What a check is: a pure function from a student's evidence to a Verdict, one per exercise.

Checks are plain functions in each lab's `checks.py`, marked with @check("exercise-id"). The
helpers here are the conditions several labs share (the domain exists and is the prepared one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from grader.evidence import DomainEvidence, Evidence
from grader.i18n import Message


@dataclass(frozen=True)
class Verdict:
    """The decision of a check: the fraction of the exercise's points earned, and why."""

    fraction: float
    messages: tuple[Message, ...]

    def __post_init__(self):
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction {self.fraction} outside [0, 1]")


def passed(key: str, **params) -> Verdict:
    return Verdict(1.0, (Message.of(key, **params),))


def failed(key: str, **params) -> Verdict:
    return Verdict(0.0, (Message.of(key, **params),))


def partial(fraction: float, key: str, **params) -> Verdict:
    return Verdict(fraction, (Message.of(key, **params),))


CheckFunction = Callable[[Evidence], Verdict]


def check(exercise_id: str):
    """Mark a function as the check of one exercise of its lab."""

    def mark(func: CheckFunction) -> CheckFunction:
        func.exercise_id = exercise_id
        return func

    return mark


def size(n: int | None) -> str:
    """Bytes as a student reads them (binary units, as virsh and qemu-img print them)."""
    if n is None:
        return "?"
    for unit, factor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} B"


def prepared_domain(ev: Evidence, name: str, role: str = "A") -> tuple[DomainEvidence | None, Verdict | None]:
    """The domain `lab start` prepared, or the failing verdict that explains why it is not there.

    A domain counts as prepared when it carries the lab's metadata element with a nonce.
    """
    dom = ev.host(role).domain(name)
    if dom is None:
        return None, failed("domain-missing", name=name, role=role, lab=ev.lab)
    meta = dom.view.lab_metadata or (dom.inactive_view.lab_metadata if dom.inactive_view else None)
    if meta is None or meta.lab != ev.lab or not meta.nonce:
        return None, failed("domain-not-prepared", name=name, role=role, lab=ev.lab)
    return dom, None


def lab_nonce(dom: DomainEvidence) -> str | None:
    meta = dom.view.lab_metadata or (dom.inactive_view.lab_metadata if dom.inactive_view else None)
    return meta.nonce if meta else None
