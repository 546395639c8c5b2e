"""Scoring: verdicts become points; a crashing check is an error scoring 0, never a pass."""
from __future__ import annotations

import copy
import json

import pytest

from grader.core import labdef
from grader.core.checks import Verdict, check, failed, partial, passed
from grader.core.evidence import Evidence
from grader.core.results import number
from grader.core.scoring import score

SOLVED = labdef.DEFAULT.folder / "lab3" / "fixtures" / "solved.json"


@pytest.fixture
def evidence():
    return Evidence.from_dict(json.loads(SOLVED.read_text()))


def lab_with(**checks):
    """lab3 with some checks replaced (a copy: the cached lab stays as it is)."""
    lab = copy.copy(labdef.load("lab3"))
    lab.checks = {**lab.checks, **{k.replace("_", "-"): v for k, v in checks.items()}}
    return lab


def test_solved_scores_full_marks(evidence):
    result = score(labdef.load("lab3"), evidence)
    assert (result.status, result.error, result.score, result.max_score) == ("graded", None, 10, 10)


def test_a_crashing_check_is_an_error_worth_zero(evidence):
    def boom(ev):
        raise KeyError("vda")

    result = score(lab_with(snap_live=boom), evidence)
    live = next(e for e in result.exercises if e.id == "snap-live")
    assert live.score == 0 and live.messages == ["check-crashed"]
    assert "Internal error" in live.feedback and "KeyError" in live.feedback
    assert result.status == "error" and "snap-live: KeyError" in result.error
    assert result.score == 7  # the other checks still count


def test_a_check_that_returns_no_verdict_is_an_error(evidence):
    result = score(lab_with(snap_offline=lambda ev: True), evidence)
    offline = result.exercises[0]
    assert offline.score == 0 and offline.messages == ["check-crashed"]
    assert result.status == "error" and "not a Verdict" in result.error


def test_partial_credit_is_rounded_and_printed_plainly(evidence):
    result = score(lab_with(snap_live=lambda ev: partial(1 / 3, "live-wrong-parent", parent="x")), evidence)
    assert result.exercises[1].score == 1 and result.score == 8
    assert number(1.5) == 1.5 and number(2.0) == 2 and isinstance(number(2.0), int)


def test_only_grades_the_named_exercises(evidence):
    result = score(labdef.load("lab3"), evidence, only=["snap-revert"])
    assert [e.id for e in result.exercises] == ["snap-revert"] and result.score == 3


def test_unreadable_host_has_no_score(evidence):
    evidence.errors = {"A": {"kind": "unreachable", "message": "cannot connect to x: refused"}}
    result = score(labdef.load("lab3"), evidence)
    assert (result.status, result.score, result.exercises) == ("unreachable", None, [])
    assert result.error == "host A: cannot connect to x: refused"


@pytest.mark.parametrize("fraction", [-0.1, 1.01])
def test_a_verdict_cannot_give_more_than_the_points(fraction):
    with pytest.raises(ValueError):
        Verdict(fraction, ())


def test_verdict_helpers_and_the_check_marker():
    assert passed("clean-ok").fraction == 1.0 and failed("clean-ok").fraction == 0.0
    assert partial(0.5, "k", a=1).messages[0].params == (("a", 1),)

    @check("some-id")
    def decide(ev):
        return passed("k")

    assert decide.exercise_id == "some-id"
