"""What a check is: a pure function from a student's evidence to a Verdict, one per exercise.

Checks are plain functions in each lab's `checks.py`, marked with @check("exercise-id"). A check
returns its verdict, or stops early by calling `fail(key, **params)` (raising Failure), so the
conditions read top to bottom without `if verdict: return verdict` guards. The helpers here are
the conditions several labs share (the domain exists and is the one `lab start` prepared).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NoReturn

from grader.core.evidence import DomainEvidence, Evidence
from grader.core.i18n import Message


@dataclass(frozen=True)
class Verdict:
    """The decision of a check: the fraction of the exercise's points earned, and why."""

    fraction: float
    messages: tuple[Message, ...]

    def __post_init__(self):
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction {self.fraction} outside [0, 1]")

    @classmethod
    def of(cls, fraction: float, *messages: Message) -> "Verdict":
        """A verdict with several messages (each condition missed says its own)."""
        return cls(fraction, tuple(messages))


class Failure(Exception):
    """Raised by a check (through `fail`) to end it with this verdict."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.messages[0].key if verdict.messages else "failure")
        self.verdict = verdict


def passed(key: str, **params) -> Verdict:
    return Verdict(1.0, (Message.of(key, **params),))


def failed(key: str, **params) -> Verdict:
    return Verdict(0.0, (Message.of(key, **params),))


def partial(fraction: float, key: str, **params) -> Verdict:
    return Verdict(fraction, (Message.of(key, **params),))


def fail(key: str, fraction: float = 0.0, **params) -> NoReturn:
    """End the check now: the exercise earns `fraction` of its points, with message `key`."""
    raise Failure(Verdict(fraction, (Message.of(key, **params),)))


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


def lab_nonce(dom: DomainEvidence) -> str | None:
    """The nonce `lab start` put in the domain's lab metadata (live or persistent definition)."""
    meta = dom.view.lab_metadata or (dom.inactive_view.lab_metadata if dom.inactive_view else None)
    return meta.nonce if meta else None


def prepared_domain(ev: Evidence, name: str, role: str = "A") -> DomainEvidence:
    """The domain `lab start` prepared; fails the check when it is missing or re-created by hand.

    A domain counts as prepared when it carries the lab's metadata element with a nonce.
    """
    dom = ev.host(role).domain(name)
    if dom is None:
        fail("domain-missing", name=name, role=role, lab=ev.lab)
    meta = dom.view.lab_metadata or (dom.inactive_view.lab_metadata if dom.inactive_view else None)
    if meta is None or meta.lab != ev.lab or not meta.nonce:
        fail("domain-not-prepared", name=name, role=role, lab=ev.lab)
    return dom
