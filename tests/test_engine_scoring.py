"""Scoring: verdicts become points; a check fails early by raising; a crashing check is an error
scoring 0, never a pass (on the engine's own toy lab)."""
from __future__ import annotations

import copy

import pytest

from grader.core.checks import Verdict, check, fail, failed, partial, passed
from grader.core.evidence import OutOfScope
from grader.core.i18n import Catalog
from grader.core.results import number
from grader.core.scoring import score
from toyhelp import TOY, evidence


@pytest.fixture
def right():
    return evidence("right")


def lab_with(**checks):
    """The toy lab with some checks replaced (a copy: the loaded lab stays as it is)."""
    lab = copy.copy(TOY)
    lab.checks = {**lab.checks, **{k.replace("_", "-"): v for k, v in checks.items()}}
    return lab


def test_the_right_state_scores_full_marks_with_feedback(right):
    result = score(TOY, right)
    assert (result.status, result.error, result.score, result.max_score) == ("graded", None, 5, 5)
    assert [e.feedback for e in result.exercises] == [
        "Good: 'toy-pool' is up with 1 volume(s).", "Good: 'first' was taken (shutoff)."]
    spanish = score(TOY, right, "es")
    assert spanish.exercises[1].feedback == "Bien: se tomó 'first' (shutoff)."


def test_a_check_fails_early_by_raising_with_its_message():
    result = score(TOY, evidence("untouched"))
    assert [(e.score, e.messages) for e in result.exercises] == [(0, ["pool-missing"]), (0, ["snap-missing"])]
    assert result.exercises[0].feedback == "There is no pool 'toy-pool'."
    recreated = score(TOY, evidence("recreated")).exercises[1]
    assert recreated.messages == ["domain-not-prepared"] and "re-created by hand" in recreated.feedback


def test_partial_credit_with_its_reason(right):
    right.host().pool("toy-pool").active = False
    pool = score(TOY, right).exercises[0]
    assert (pool.score, pool.messages, pool.feedback) == (1, ["pool-inactive"], "'toy-pool' is not active.")


def test_a_crashing_check_is_an_error_worth_zero(right):
    def boom(ev):
        raise KeyError("vda")

    result = score(lab_with(vm_snap=boom), right)
    snap = result.exercises[1]
    assert snap.score == 0 and snap.messages == ["check-crashed"]
    assert "Internal error" in snap.feedback and "KeyError" in snap.feedback
    assert result.status == "error" and "vm-snap: KeyError" in result.error
    assert result.score == 2  # the other check still counts


def test_a_check_that_returns_no_verdict_is_an_error(right):
    result = score(lab_with(pool_on=lambda ev: True), right)
    assert result.exercises[0].messages == ["check-crashed"]
    assert result.status == "error" and "not a Verdict" in result.error


def test_a_check_reading_outside_its_lab_scope_is_an_error_not_a_silent_miss(right):
    result = score(lab_with(pool_on=lambda ev: passed("pool-ok") if ev.host().pool("default") is None else None), right)
    assert result.status == "error" and "OutOfScope" in result.error
    with pytest.raises(OutOfScope, match="'default' is not in the lab's collect scope"):
        right.host().pool("default")


def test_partial_credit_is_rounded_and_printed_plainly(right):
    result = score(lab_with(vm_snap=lambda ev: partial(1 / 3, "snap-ok", snapshot="x", state="y")), right)
    assert result.exercises[1].score == 1 and result.score == 3
    assert number(1.5) == 1.5 and number(2.0) == 2 and isinstance(number(2.0), int)


def test_only_grades_the_named_exercises(right):
    result = score(TOY, right, only=["vm-snap"])
    assert [e.id for e in result.exercises] == ["vm-snap"] and result.score == 3


def test_unreadable_host_has_no_score(right):
    right.errors = {"A": {"kind": "unreachable", "message": "cannot connect to x: refused"}}
    result = score(TOY, right)
    assert (result.status, result.score, result.exercises) == ("unreachable", None, [])
    assert result.error == "host A: cannot connect to x: refused"


@pytest.mark.parametrize("fraction", [-0.1, 1.01])
def test_a_verdict_cannot_give_more_than_the_points(fraction):
    with pytest.raises(ValueError):
        Verdict(fraction, ())


def test_verdict_helpers_and_the_check_marker():
    assert passed("k").fraction == 1.0 and failed("k").fraction == 0.0
    assert partial(0.5, "k", a=1).messages[0].params == (("a", 1),)
    assert [m.key for m in Verdict.of(0.25, *failed("a").messages, *failed("b").messages).messages] == ["a", "b"]

    @check("some-id")
    def decide(ev):
        fail("nope", fraction=0.5, why="x")

    assert decide.exercise_id == "some-id"
    lab = copy.copy(TOY)
    lab.checks = {"pool-on": decide, "vm-snap": TOY.checks["vm-snap"]}
    lab.catalog = Catalog({**TOY.catalog.entries, "nope": {"en": "no: {why}", "es": "no: {why}"}})
    result = score(lab, evidence("right"))
    assert (result.exercises[0].score, result.exercises[0].feedback) == (1, "no: x")


def test_xml_no_libvirt_would_write_is_the_hosts_error_not_the_checks(right):
    dom = right.host().domain("toy-vm")
    dom.xml = dom.xml.replace("<devices>", "<devices", 1)
    result = score(TOY, right)
    assert result.status == "error" and "vm-snap: the host sent XML that cannot be read" in result.error
    bad = result.exercises[1]
    assert (bad.score, bad.messages) == (0, ["host-xml-unreadable"]) and "Ask your instructor" in bad.feedback
    assert result.exercises[0].score == 2        # what could be read is still graded


def test_a_results_dict_is_every_field_in_order_and_round_trips(right):
    """StudentResult.to_dict is written out by hand (asdict was slow): it must still hold every
    field of the dataclasses, in their order, as asdict would, and read back the same."""
    from dataclasses import asdict, fields

    from grader.core.results import ExerciseResult, StudentResult

    result = score(TOY, right)
    result.hosts = {"A": "test:///a", "B": "test:///b"}
    data = result.to_dict()
    assert data == asdict(result) and data["exercises"] and data["exercises"][0]["messages"]
    assert list(data) == [f.name for f in fields(StudentResult)]
    assert list(data["exercises"][0]) == [f.name for f in fields(ExerciseResult)]
    assert data["hosts"] is not result.hosts and data["exercises"][0]["messages"] is not result.exercises[0].messages
    assert StudentResult.from_dict(data) == result
