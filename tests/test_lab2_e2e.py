"""lab2 end to end on a real lab host: `lab start lab2`, the notebook (twice), every wrong state
of the curriculum made with plain virsh and qemu-img (the recipes of lab2's fixtures), read-only
grading, and bad input.

Heavy steps happen once per state in module-scoped fixtures; tests only read what they captured.
"""
from __future__ import annotations

import json
import os
import tempfile
import time

import libvirt
import nbformat
import pytest
from click.testing import CliRunner
from nbclient import NotebookClient

from grader import ROOT
from grader.cli.main import lab
from grader.testing import fixturecapture
from labs.lab2.fixtures import capture
from e2ehelp import graded_exercises, lab_command

pytestmark = pytest.mark.labhost

NOTEBOOK = ROOT / "notebooks" / "lab2" / "lab2.ipynb"
EXERCISES = ["vol-raw", "vol-qcow2", "vol-convert", "vol-overlay", "vol-overcommit"]


WRONG_STATES = sorted(set(capture.CASES) - {"started", "solved"})


def grade_json(uri: str, *extra: str) -> dict:
    return graded_exercises("lab2", uri, *extra)


def pool_state(uri: str) -> dict[str, str]:
    """Pool lab2 and its volumes as the host reports them, to compare before and after grading."""
    conn = libvirt.openReadOnly(uri)
    try:
        pool = conn.storagePoolLookupByName("lab2")
        out = {"pool": pool.XMLDesc(0), "active": str(pool.isActive())}
        for vol in pool.listAllVolumes(0):
            out[vol.name()] = vol.XMLDesc(0)
        return out
    finally:
        conn.close()


def run_notebook(uri: str) -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {**os.environ, "LIBVIRT_DEFAULT_URI": uri, "LAB_URI_A": uri, "LAB_LANG": "en"}
    env.pop("NBGRADER_EXECUTION", None)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as cwd:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": cwd}}).execute(env=env)
    return nb, time.monotonic() - started


def outputs(nb) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells], ensure_ascii=False)


@pytest.fixture(scope="module")
def uri(labhosts):
    yield labhosts.uri("a")
    CliRunner().invoke(lab, ["finish", "lab2", "--host", labhosts.uri("a")])


@pytest.fixture(scope="module")
def started(uri):
    lab_command("start", "lab2", "--host", uri)
    return {lang: grade_json(uri, "--lang", lang) for lang in ("en", "es")}


@pytest.fixture(scope="module")
def solved(uri):
    """lab start, the notebook with its solutions (twice in a row), grading before and after."""
    lab_command("start", "lab2", "--host", uri)
    first, first_seconds = run_notebook(uri)
    second, second_seconds = run_notebook(uri)
    before = pool_state(uri)
    graded = grade_json(uri)
    return {"first": first, "second": second, "seconds": (first_seconds, second_seconds),
            "graded": graded, "unchanged": before == pool_state(uri)}


@pytest.fixture(scope="module")
def wrong(uri):
    """Each wrong state of lab2's fixtures, made on the real host and graded there."""
    graded = {}
    for case in WRONG_STATES:
        commands, expect = capture.CASES[case]
        lab_command("start", "lab2", "--host", uri)
        with tempfile.TemporaryDirectory() as tmp:
            values = fixturecapture.placeholders(uri, tmp)
            for command in commands:
                fixturecapture.run(command, values)
        graded[case] = (expect, grade_json(uri))
    return graded


def test_started_scores_zero_with_feedback_on_every_exercise(started):
    for lang, got in started.items():
        assert list(got) == EXERCISES
        assert all(e["score"] == 0 and e["messages"] == ["vol-missing"] for e in got.values())
        assert all("virsh pool-refresh lab2" in e["feedback"] for e in got.values()), lang
    assert "read-only connection cannot refresh" in started["en"]["vol-raw"]["feedback"]
    assert "solo lectura" in started["es"]["vol-raw"]["feedback"]


def test_notebook_solutions_score_ten(solved):
    got = solved["graded"]
    assert sum(e["score"] for e in got.values()) == 10, got
    assert [e["messages"] for e in got.values()] == [
        ["raw-ok"], ["qcow2-ok"], ["convert-ok"], ["overlay-ok"], ["overcommit-ok"]]


def test_notebook_runs_twice_in_under_a_minute_with_png_charts(solved):
    assert all(seconds < 60 for seconds in solved["seconds"]), solved["seconds"]
    for nb in (solved["first"], solved["second"]):
        text = outputs(nb)
        assert '"output_type": "error"' not in text
        assert text.count("image/png") >= 2          # bench bar chart, growth line chart
        assert "✘" not in text and "◐" not in text    # every check-my-work cell passed


def test_grading_never_changes_the_host(solved):
    assert solved["unchanged"]


@pytest.mark.parametrize("case", WRONG_STATES)
def test_wrong_state_grades_as_its_fixture_expects(wrong, case):
    expect, got = wrong[case]
    for exercise, wanted in expect.items():
        assert (got[exercise]["score"], got[exercise]["messages"]) == (wanted["score"], wanted["messages"]), \
            got[exercise]["feedback"]


def test_sparse_raw_feedback_explains_sparse_versus_preallocated(wrong):
    feedback = wrong["raw-sparse"][1]["vol-raw"]["feedback"]
    assert "sparse file" in feedback and "preallocation=full" in feedback


def test_name_does_not_decide_the_format(wrong):
    assert "is qcow2, not raw" in wrong["qcow2-named-img"][1]["vol-raw"]["feedback"]
    assert "is raw, not qcow2" in wrong["raw-named-qcow2"][1]["vol-qcow2"]["feedback"]


def test_overlay_on_the_wrong_backing_file_names_both(wrong):
    feedback = wrong["overlay-wrong-backing"][1]["vol-overlay"]["feedback"]
    assert "/var/lib/libvirt/lab2/disk-raw.img" in feedback
    assert "/var/lib/libvirt/lab2/disk-thin.qcow2" in feedback


def test_lab_start_on_an_unreachable_host_is_one_line():
    result = CliRunner().invoke(lab, ["start", "lab2", "--host", "qemu+tcp://127.0.0.1:1/system"])
    assert result.exit_code != 0
    assert result.output.startswith("error: cannot connect") and result.output.count("\n") == 1
