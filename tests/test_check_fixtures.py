"""Every lab's check fixtures regrade offline as their "expect" says, and every exercise has both
a fixture where it earns full marks and one where it earns less.

A fixture is `labs/<lab>/fixtures/<case>.json`: an evidence file exactly as `grade LAB
--save-evidence` writes it, captured from a real host, plus an "expect" key.
"""
from __future__ import annotations

import json

import pytest

from grader.core import labdef
from grader.core.evidence import Evidence
from grader.core.scoring import score


def _fixtures():
    for lab_id in labdef.available():
        for path in sorted((labdef.DEFAULT.folder / lab_id / "fixtures").glob("*.json")):
            yield pytest.param(lab_id, path, id=f"{lab_id}/{path.stem}")


FIXTURES = list(_fixtures())


def test_every_lab_of_the_course_has_fixtures():
    """The parametrized tests below loop over fixtures: a lab without any would pass them all."""
    labs = labdef.available()
    assert len(labs) >= 5, labs
    assert {param.values[0] for param in FIXTURES} == set(labs)


def _graded(lab_id, path):
    data = json.loads(path.read_text())
    lab = labdef.load(lab_id)
    result = score(lab, Evidence.from_dict(data), "en")
    return lab, data["expect"], {e.id: e for e in result.exercises}


@pytest.mark.parametrize("lab_id,path", FIXTURES)
def test_fixture_grades_as_expected(lab_id, path):
    lab, expect, graded = _graded(lab_id, path)
    assert expect, f"{path.name} has an empty 'expect'"
    for exercise_id, wanted in expect.items():
        lab.exercise(exercise_id)  # an unknown id in a fixture is a typo: UsageError
        got = graded[exercise_id]
        assert got.score == wanted["score"], f"{exercise_id}: {got.feedback}"
        assert got.messages == wanted["messages"], f"{exercise_id}: {got.feedback}"
        assert got.feedback  # a student always reads something


@pytest.mark.parametrize("lab_id,path", FIXTURES)
def test_fixture_is_evidence_of_its_lab(lab_id, path):
    data = json.loads(path.read_text())
    assert data["lab"] == lab_id
    assert not data.get("errors"), "fixtures are captured from hosts that could be read"


@pytest.mark.parametrize("lab_id", labdef.available())
def test_every_exercise_has_a_passing_and_a_failing_fixture(lab_id):
    lab = labdef.load(lab_id)
    full, less = set(), set()
    for param in FIXTURES:
        fixture_lab, path = param.values
        if fixture_lab != lab_id:
            continue
        _, expect, _ = _graded(lab_id, path)
        for exercise_id, wanted in expect.items():
            (full if wanted["score"] == lab.exercise(exercise_id).points else less).add(exercise_id)
    ids = {e.id for e in lab.exercises}
    assert ids, f"{lab_id} declares no exercises"
    assert not ids - full, f"{lab_id}: no fixture gives full marks to {sorted(ids - full)}"
    assert not ids - less, f"{lab_id}: no fixture gives less than full marks to {sorted(ids - less)}"
