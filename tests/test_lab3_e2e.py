"""lab3 end to end on a real lab host: `lab start lab3`, the notebook, every wrong state the
curriculum names (made with plain virsh), read-only grading, and bad input.

Heavy steps (lab start, running the notebook) happen once per state in module-scoped fixtures,
which capture what the tests assert; tests themselves only read those captures.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import libvirt
import nbformat
import pytest
from click.testing import CliRunner
from nbclient import NotebookClient

from grader import ROOT
from grader.core import labdef
from grader.cli.main import grade, lab
from classhelp import collect_student, grade_student
from grader.labhosts.config import Settings
from grader.core.scoring import score
from grader.testing import fixturecapture
from labs.lab3.fixtures import capture  # its virsh recipes are the e2e wrong states

NOTEBOOK = ROOT / "notebooks" / "lab3" / "lab3.ipynb"
EXERCISES = ["snap-offline", "snap-live", "snap-revert", "snap-external"]




# --- helpers ------------------------------------------------------------------------------------

def lab_start(uri: str) -> None:
    result = CliRunner().invoke(lab, ["start", "lab3", "--host", uri])
    assert result.exit_code == 0, result.output


def grade_json(uri: str, *extra: str) -> tuple[int, dict]:
    result = CliRunner().invoke(grade, ["lab3", "--host", uri, "--format", "json", *extra])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def exercises(data: dict) -> dict[str, dict]:
    return {e["id"]: e for e in data["results"][0]["exercises"]}


def host_xml(uri: str) -> dict[str, str]:
    """Every piece of lab3's XML the host reports (read-only), to compare before and after."""
    conn = libvirt.openReadOnly(uri)
    try:
        out = {}
        for name in ("lab3-vm", "lab3-raw"):
            dom = conn.lookupByName(name)
            out[name] = dom.XMLDesc(0)
            out[f"{name} inactive"] = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
            out[f"{name} state"] = str(dom.state(0))
            for snap in dom.listAllSnapshots(0):
                out[f"{name}/{snap.getName()}"] = snap.getXMLDesc(0) + f" current={snap.isCurrent(0)}"
        pool = conn.storagePoolLookupByName("lab3")
        out["pool"] = pool.XMLDesc(0)
        for vol in pool.listAllVolumes(0):
            out[f"vol {vol.name()}"] = vol.XMLDesc(0)
        return out
    finally:
        conn.close()


def run_notebook(uri: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {**os.environ, "LIBVIRT_DEFAULT_URI": uri, "LAB_URI_A": uri, "LAB_LANG": "en"}
    env.pop("NBGRADER_EXECUTION", None)
    with tempfile.TemporaryDirectory() as cwd:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": cwd}}).execute(env=env)
    return nb


def readonly_socket_uri(labhosts) -> str:
    """Lab host a's libvirt-sock-ro: its /run/libvirt is a directory of the host's state, so the
    read-only socket is reachable from outside the host's mount namespace."""
    socket = Settings.from_env().host_dir("a") / "run" / "libvirt-sock-ro"
    assert socket.is_socket(), f"lab host a has no read-only socket at {socket}"
    return f"qemu+unix:///system?socket={socket}"


# --- states, each prepared once ----------------------------------------------------------------

@pytest.fixture(scope="module")
def uri(labhosts):
    return labhosts.uri("a")


@pytest.fixture(scope="module")
def started(uri):
    lab_start(uri)
    return {lang: grade_json(uri, "--lang", lang) for lang in ("en", "es")}


@pytest.fixture(scope="module")
def solved(uri, labhosts):
    """lab start, the notebook with its solutions, then grading (twice, and read-only)."""
    lab_start(uri)
    nb = run_notebook(uri)
    before = host_xml(uri)
    first = grade_json(uri)
    second = grade_json(uri)
    after = host_xml(uri)
    ro_uri = readonly_socket_uri(labhosts)
    readonly = grade_json(ro_uri)
    rerun = run_notebook(uri)           # running it twice in a row works
    again = grade_json(uri)
    return {"nb": nb, "first": first, "second": second, "before": before, "after": after,
            "readonly": readonly, "ro_uri": ro_uri, "rerun": rerun, "again": again}


# --- lab start and the notebook -----------------------------------------------------------------

@pytest.mark.labhost
def test_after_lab_start_everything_scores_zero_with_feedback(started):
    status, data = started["en"]
    assert status == 0 and data["results"][0]["status"] == "graded" and data["results"][0]["score"] == 0
    got = exercises(data)
    assert list(got) == EXERCISES
    for ex in got.values():
        assert ex["score"] == 0 and ex["feedback"]
    assert got["snap-external"]["messages"] == ["ext-missing"]
    es = exercises(started["es"][1])
    assert es["snap-offline"]["feedback"].startswith("No hay ninguna instantánea 'clean' en lab3-vm")


@pytest.mark.labhost
def test_notebook_with_solutions_scores_full_marks(solved):
    status, data = solved["first"]
    assert status == 0 and data["results"][0]["score"] == 10
    assert all(e["score"] == e["max_score"] for e in exercises(data).values())
    printed = "".join(o.get("text", "") for c in solved["nb"].cells if c.cell_type == "code" for o in c.outputs)
    for ex in EXERCISES:
        assert f"✔ {ex}:" in printed           # each check-my-work cell said so
    # the experiments: data written into the disk is gone after the revert, libvirt refuses an
    # internal snapshot of the raw disk, and qemu-img shows what live-1's memory costs
    assert "written: 0xab" in printed and "0xab gone" in printed
    assert "libvirt refused:" in printed and "unsupported for storage type raw" in printed
    assert "snapshot live-1" in printed and "memory" in printed
    images = [o for c in solved["nb"].cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) == 1                      # the snapshot tree


@pytest.mark.labhost
def test_notebook_runs_twice_in_a_row(solved):
    assert solved["again"][1]["results"][0]["score"] == 10


@pytest.mark.labhost
def test_grading_twice_is_identical_and_changes_nothing(solved):
    assert solved["first"] == solved["second"]
    assert solved["before"] == solved["after"]
    assert any(key.startswith("lab3-vm/") for key in solved["before"])   # snapshots were compared


@pytest.mark.labhost
def test_read_only_socket_is_enough_to_grade(solved):
    status, data = solved["readonly"]
    assert status == 0 and data["results"][0]["hosts"] == {"A": solved["ro_uri"]}
    assert exercises(data) == exercises(solved["first"][1])
    conn = libvirt.open(solved["ro_uri"])    # even a read-write open through it cannot write
    try:
        with pytest.raises(libvirt.libvirtError, match="read only access"):
            conn.lookupByName("lab3-vm").create()
    finally:
        conn.close()


# --- every wrong state the curriculum names -----------------------------------------------------

PHRASES = {  # message key -> a phrase the student must read, in each language
    "clean-not-shutoff": ("was taken while lab3-vm was running", "se tomó con lab3-vm en estado running"),
    "live-no-memory": ("the memory is missing", "falta la memoria"),
    "revert-skipped": ("the revert was skipped", "se saltó la reversión"),
    "ext-missing": ("A raw image cannot hold internal snapshots", "Una imagen raw no puede guardar instantáneas internas"),
    "ext-disk-not-overlay": ("not at the overlay", "no a la capa"),
    "domain-not-prepared": ("re-created by hand", "se volvió a crear a mano"),
    "domain-missing": ("is not defined on host A", "no está definido en el host A"),
}
WRONG = ["clean-while-running", "live-disk-only", "revert-skipped", "ext-internal-on-raw",
         "ext-disk-reverted", "vm-recreated-by-hand", "raw-undefined"]


@pytest.mark.labhost
@pytest.mark.parametrize("case", WRONG)
def test_wrong_state_is_graded_with_teaching_feedback(uri, case):
    commands, expect = capture.CASES[case]
    lab_start(uri)
    with tempfile.TemporaryDirectory() as tmp:
        for command in commands:
            fixturecapture.run(command, fixturecapture.placeholders(uri, tmp))
    graded = {lang: exercises(grade_json(uri, "--lang", lang)[1]) for lang in ("en", "es")}
    for exercise_id, wanted in expect.items():
        got = graded["en"][exercise_id]
        assert (got["score"], got["messages"]) == (wanted["score"], wanted["messages"]), got["feedback"]
        for key in wanted["messages"]:
            if key in PHRASES:
                en, es = PHRASES[key]
                assert en in got["feedback"] and es in graded["es"][exercise_id]["feedback"]
    if case == "vm-recreated-by-hand":
        assert "`lab start lab3`" in graded["en"]["snap-offline"]["feedback"]


# --- bad input on real hosts ---------------------------------------------------------------------

@pytest.mark.labhost
def test_every_student_gets_a_result_whatever_the_others_hosts_do(uri):
    lab3 = labdef.load("lab3")
    students = {"ok": uri, "gone": "qemu+tcp://127.0.0.1:1/system", "typo": "qemu+tcp://127.0.0.1:1/nosuch"}
    results = {name: grade_student(lab3, name, {"A": u})[0] for name, u in students.items()}
    assert results["ok"].status == "graded" and len(results["ok"].exercises) == 4
    for name in ("gone", "typo"):
        assert results[name].status == "unreachable" and results[name].score is None
        assert "\n" not in results[name].error


@pytest.mark.labhost
def test_a_connection_that_dies_mid_collection_is_unreachable_with_the_reason(uri):
    lab3 = labdef.load("lab3")
    conn = libvirt.openReadOnly(uri)
    conn.close()                       # the connection dies before the grader reads through it
    evidence = collect_student(lab3, "s", {"A": uri}, connections={"A": conn})
    result = score(lab3, evidence)
    assert result.status == "unreachable" and result.score is None
    assert result.error.startswith(f"host A: {uri} stopped answering: libvirt failed while reading")


@pytest.mark.labhost
def test_unreachable_host_from_the_command_line(uri):
    status, data = grade_json("qemu+tcp://127.0.0.1:1/system")
    assert status == 1 and data["results"][0]["status"] == "unreachable"


# --- nbgrader --------------------------------------------------------------------------------------

def test_nbgrader_generates_a_student_version_without_solutions(tmp_path):
    source = tmp_path / "source" / "lab3"
    source.mkdir(parents=True)
    shutil.copy(NOTEBOOK, source / "lab3.ipynb")
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(tmp_path)!r}\n"
        "c.CourseDirectory.course_id = 'kvm-storage'\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{tmp_path}/gradebook.db'\n")
    nbgrader = Path(sys.executable).with_name("nbgrader")
    env = {**os.environ, "PATH": f"{nbgrader.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # alembic
    done = subprocess.run([nbgrader, "generate_assignment", "lab3", "--force"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    student = nbformat.read(tmp_path / "release" / "lab3" / "lab3.ipynb", as_version=4)
    text = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "BEGIN HIDDEN TESTS" not in text and "snapshotCreateXML(snapshot_xml(\"clean\")" not in text
    assert text.count("raise NotImplementedError()") == 6     # four lab steps, snapshot_kind, chain_after
    assert text.count("check_my_work(\"lab3\"") == 5           # the check cells stay
    assert "assert snapshot_kind(_snap(\"shutoff\", \"internal\")) == \"internal\"" in text
