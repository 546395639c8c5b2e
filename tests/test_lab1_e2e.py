"""lab1 end to end on a real lab host: `lab start lab1`, the notebook (twice) on the course's
GlusterFS share and iSCSI target, every wrong state of lab1's fixtures made with plain virsh,
pool-refresh making a qemu-img file count, and `lab start` leaving everything else alone.

Heavy steps happen once per state in module-scoped fixtures; tests only read what they captured.
"""
from __future__ import annotations

import json
import os
import subprocess
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
from labs.lab1.fixtures import capture
from e2ehelp import graded_exercises, lab_command

pytestmark = pytest.mark.labhost

NOTEBOOK = ROOT / "notebooks" / "lab1" / "lab1.ipynb"
EXERCISES = ["pool-dir", "pool-netfs", "pool-iscsi", "pool-volume"]


WRONG_STATES = sorted(set(capture.CASES) - {"started", "solved"})


def grade_json(uri: str, *extra: str) -> dict:
    return graded_exercises("lab1", uri, *extra)


def virsh(uri: str, *args: str) -> str:
    return subprocess.run(["virsh", "-q", "-c", uri, *args], check=True, capture_output=True, text=True).stdout


def run_shell(uri: str, line: str, tmp: str) -> None:
    fixturecapture.run(line, fixturecapture.placeholders(uri, tmp))


def pools_state(uri: str) -> dict[str, str]:
    """Every pool of the host as it reports itself, to compare before and after grading."""
    conn = libvirt.openReadOnly(uri)
    try:
        return {p.name(): p.XMLDesc(0) + f" active={p.isActive()} autostart={p.autostart()}"
                + f" volumes={sorted(p.listVolumes()) if p.isActive() else None}"
                for p in conn.listAllStoragePools(0)}
    finally:
        conn.close()


def run_notebook(uri: str, env_extra: dict) -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {**os.environ, **env_extra, "LIBVIRT_DEFAULT_URI": uri, "LAB_URI_A": uri, "LAB_LANG": "en"}
    env.pop("NBGRADER_EXECUTION", None)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as cwd:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": cwd}}).execute(env=env)
    return nb, time.monotonic() - started


@pytest.fixture(scope="module")
def uri(labhosts):
    # capture's recipes read the course's services from the environment, as `lab hosts env` sets it
    saved = {k: os.environ.get(k) for k in labhosts.env}
    os.environ.update(labhosts.env)
    yield labhosts.uri("a")
    CliRunner().invoke(lab, ["finish", "lab1", "--host", labhosts.uri("a")])
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def started(uri):
    lab_command("start", "lab1", "--host", uri)
    return {lang: grade_json(uri, "--lang", lang) for lang in ("en", "es")}


@pytest.fixture(scope="module")
def solved(uri, labhosts):
    lab_command("start", "lab1", "--host", uri)
    first, first_seconds = run_notebook(uri, labhosts.env)
    second, second_seconds = run_notebook(uri, labhosts.env)
    before = pools_state(uri)
    graded = {lang: grade_json(uri, "--lang", lang) for lang in ("en", "es")}
    return {"notebooks": (first, second), "seconds": (first_seconds, second_seconds),
            "graded": graded, "unchanged": before == pools_state(uri)}


@pytest.fixture(scope="module")
def wrong(uri):
    graded = {}
    for case in WRONG_STATES:
        commands, expect = capture.CASES[case]
        lab_command("start", "lab1", "--host", uri)
        with tempfile.TemporaryDirectory() as tmp:
            for command in commands:
                run_shell(uri, command, tmp)
            graded[case] = (expect, grade_json(uri))
            for command in capture.AFTER.get(case, ()):
                run_shell(uri, command, tmp)
    return graded


@pytest.fixture(scope="module")
def refreshed(uri):
    """A qcow2 made with qemu-img in lab1-dir: invisible, then counted after pool-refresh."""
    commands, _ = capture.CASES["volume-not-refreshed"]
    lab_command("start", "lab1", "--host", uri)
    with tempfile.TemporaryDirectory() as tmp:
        for command in commands:
            run_shell(uri, command, tmp)
    before = grade_json(uri, "--exercise", "pool-volume")["pool-volume"]
    virsh(uri, "pool-refresh", "lab1-dir")
    return before, grade_json(uri, "--exercise", "pool-volume")["pool-volume"]


@pytest.fixture(scope="module")
def bystanders(uri, token):
    """A pool of the host's own beside lab1-dir (with a volume), then lab start. (A lab1-dir on
    someone else's directory is refused: tests/test_lab_places.py.)"""
    other = f"t-other-{token}"
    lab_command("start", "lab1", "--host", uri)
    try:
        virsh(uri, "pool-define-as", other, "dir", "--target", f"/var/lib/libvirt/{other}")
        virsh(uri, "pool-build", other)
        virsh(uri, "pool-start", other)
        virsh(uri, "vol-create-as", other, "keep.qcow2", "16M", "--format", "qcow2")
        virsh(uri, "pool-define-as", "lab1-dir", "dir", "--target", "/var/lib/libvirt/lab1-dir")
        virsh(uri, "pool-build", "lab1-dir")
        virsh(uri, "pool-start", "lab1-dir")
        virsh(uri, "vol-create-as", "lab1-dir", "mine.qcow2", "16M", "--format", "qcow2")
        lab_command("start", "lab1", "--host", uri)
        after = {"pools": virsh(uri, "pool-list", "--all", "--name").split(),
                 "other": virsh(uri, "vol-list", other).split()}
    finally:
        for pool in (other, "lab1-dir"):
            _remove_pool(uri, pool)
    return other, after


def _remove_pool(uri: str, pool: str) -> None:
    """Delete a test pool with its volumes and directory, whatever state it is in."""
    subprocess.run(["virsh", "-q", "-c", uri, "pool-start", pool], capture_output=True)
    listing = subprocess.run(["virsh", "-q", "-c", uri, "vol-list", pool], capture_output=True, text=True).stdout
    for volume in [line.split()[0] for line in listing.splitlines() if line.strip()]:
        subprocess.run(["virsh", "-q", "-c", uri, "vol-delete", volume, "--pool", pool], capture_output=True)
    for step in ("pool-destroy", "pool-delete", "pool-undefine"):
        subprocess.run(["virsh", "-q", "-c", uri, step, pool], capture_output=True)


@pytest.fixture(scope="module")
def token():
    import secrets

    return secrets.token_hex(3)


def test_started_scores_zero_with_feedback_on_every_exercise(started):
    for lang, got in started.items():
        assert list(got) == EXERCISES
        assert all(e["score"] == 0 and e["feedback"] for e in got.values()), lang
    assert [started["en"][e]["messages"] for e in EXERCISES] == [
        ["dir-missing"], ["shared-missing"], ["iscsi-missing"], ["volume-no-pool"]]
    assert "virsh pool-define-as lab1-dir dir" in started["es"]["pool-dir"]["feedback"]


def test_notebook_solutions_score_ten(solved):
    for lang, got in solved["graded"].items():
        assert sum(e["score"] for e in got.values()) == 10, (lang, got)
    assert "iscsi-direct" in solved["graded"]["en"]["pool-iscsi"]["feedback"]
    assert "glusterfs" in solved["graded"]["es"]["pool-netfs"]["feedback"]


def test_notebook_runs_twice_in_under_a_minute_with_a_png_chart(solved):
    assert all(seconds < 60 for seconds in solved["seconds"]), solved["seconds"]
    for nb in solved["notebooks"]:
        text = json.dumps([c.get("outputs", []) for c in nb.cells], ensure_ascii=False)
        assert '"output_type": "error"' not in text
        assert "image/png" in text
        assert "✘" not in text and "◐" not in text


def test_grading_never_changes_the_host(solved):
    assert solved["unchanged"]


@pytest.mark.parametrize("case", WRONG_STATES)
def test_wrong_state_grades_as_its_fixture_expects(wrong, case):
    expect, got = wrong[case]
    for exercise, wanted in expect.items():
        assert (got[exercise]["score"], got[exercise]["messages"]) == (wanted["score"], wanted["messages"]), \
            got[exercise]["feedback"]


def test_partial_credit_names_what_is_missing(wrong):
    feedback = wrong["dir-defined-only"][1]["pool-dir"]["feedback"]
    assert "virsh pool-start lab1-dir" in feedback and "virsh pool-autostart lab1-dir" in feedback


def test_pool_refresh_makes_a_qemu_img_file_count(refreshed):
    before, after = refreshed
    assert (before["score"], before["messages"]) == (0, ["volume-none"])
    assert "virsh pool-refresh lab1-dir" in before["feedback"]
    assert (after["score"], after["messages"]) == (3, ["volume-ok"])
    assert "disk1.qcow2" in after["feedback"]


def test_lab_start_removes_lab1_dir_and_leaves_other_pools_alone(bystanders):
    other, after = bystanders
    assert other in after["pools"] and "lab1-dir" not in after["pools"]
    assert "keep.qcow2" in after["other"]
