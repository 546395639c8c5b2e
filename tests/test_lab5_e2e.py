"""lab5 end to end on a VM host (its own kernel: device-mapper, ZFS, three spare disks): `lab start
lab5`, the reference solution, the notebook (twice), the wrong states the curriculum names made with
plain virsh (the recipes of lab5's fixtures), the disks `lab start` must refuse, and the light
host where lab5 cannot run. Grading is the installed `grade lab5 --format json`.

The VM hosts are the session's (`vmhosts` in conftest.py: booted once, in their own LAB_HOME).
Heavy steps happen once per state in module-scoped fixtures; tests only read what they captured.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libvirt
import nbformat
import pytest
from nbclient import NotebookClient

from grader import ROOT
from grader.testing import fixturecapture
from labs.lab5.fixtures import capture

pytestmark = [pytest.mark.labhost, pytest.mark.slow]

BIN = Path(sys.executable).parent
NOTEBOOK = ROOT / "notebooks" / "lab5" / "lab5.ipynb"
EXERCISES = ["pool-disk", "pool-logical", "snap-lvm", "pool-zfs"]
#: Emulated (TCG) VM hosts are slow: LVM and parted take a second or more per command there.
SLOW = 900


@pytest.fixture(scope="module")
def vmenv(vmhosts):
    return {**os.environ, **vmhosts.env, "LAB_LANG": "en"}


@pytest.fixture(scope="module")
def uri(vmenv):
    return vmenv["LAB_URI_A"]


def run(argv, env, timeout=SLOW) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True,
                          timeout=timeout)


def lab_start(uri: str, env: dict, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = run([BIN / "lab", "start", "lab5", "--host", uri, *extra], env)
    return done, time.monotonic() - started


def grade(uri: str, env: dict, lang: str = "en") -> dict[str, dict]:
    done = run([BIN / "grade", "lab5", "--host", uri, "--format", "json"], {**env, "LAB_LANG": lang})
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    result = json.loads(done.stdout)["results"][0]
    assert result["status"] == "graded", result
    return {e["id"]: e for e in result["exercises"]}


def total(graded: dict) -> int:
    return sum(e["score"] for e in graded.values())


def steps(uri: str, env: dict, commands) -> None:
    """virsh commands (the fixtures' recipes) with the spare disks filled in."""
    with tempfile.TemporaryDirectory() as tmp:
        values = {**fixturecapture.placeholders(uri, tmp), **capture.disk_values(env)}
        for command in commands:
            fixturecapture.run(command, values)


def host_state(uri: str) -> dict[str, str]:
    """lab5's pools and volumes as the host reports them (read-only)."""
    conn = libvirt.openReadOnly(uri)
    try:
        out = {}
        for name in ("lab5-disk", "lab5-vg", "lab5-zfs"):
            pool = conn.storagePoolLookupByName(name)
            out[name] = pool.XMLDesc(0) + f" active={pool.isActive()}"
            for vol in pool.listAllVolumes(0):
                out[f"{name}/{vol.name()}"] = vol.XMLDesc(0)
        return out
    finally:
        conn.close()


# --- states, each prepared once -----------------------------------------------------------------

@pytest.fixture(scope="module")
def started(uri, vmenv):
    done, seconds = lab_start(uri, vmenv)
    assert done.returncode == 0, done.stdout + done.stderr
    return {"seconds": seconds, "en": grade(uri, vmenv), "es": grade(uri, vmenv, "es")}


@pytest.fixture(scope="module")
def solved(uri, vmenv, started):
    began = time.monotonic()
    done = run([sys.executable, "-m", "labs.lab5.solution", uri], vmenv)
    assert done.returncode == 0, done.stderr
    seconds = time.monotonic() - began
    before = host_state(uri)
    first, second = grade(uri, vmenv), grade(uri, vmenv)
    after = host_state(uri)
    again = run([sys.executable, "-m", "labs.lab5.solution", uri], vmenv)   # solving twice
    assert again.returncode == 0, again.stderr
    return {"seconds": seconds, "first": first, "second": second, "before": before, "after": after,
            "again": grade(uri, vmenv), "es": grade(uri, vmenv, "es")}


def run_notebook(env: dict) -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {**env, "LIBVIRT_DEFAULT_URI": env["LAB_URI_A"]}
    env.pop("NBGRADER_EXECUTION", None)
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as cwd:
        NotebookClient(nb, timeout=SLOW, kernel_name="python3",
                       resources={"metadata": {"path": cwd}}).execute(env=env)
    return nb, time.monotonic() - began


def printed(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.fixture(scope="module")
def notebook(uri, vmenv, solved):
    done, _ = lab_start(uri, vmenv)
    assert done.returncode == 0, done.stderr
    first, seconds = run_notebook(vmenv)
    graded = grade(uri, vmenv)
    rerun, _ = run_notebook(vmenv)          # running it twice in a row works
    return {"nb": first, "seconds": seconds, "graded": graded, "rerun": rerun, "again": grade(uri, vmenv)}


# --- lab start, the solution, grading -------------------------------------------------------------

def test_after_lab_start_everything_scores_zero_with_feedback(started):
    got = started["en"]
    assert list(got) == EXERCISES and total(got) == 0
    assert {k: e["messages"] for k, e in got.items()} == {
        "pool-disk": ["disk-missing"], "pool-logical": ["vg-missing"],
        "snap-lvm": ["snap-no-pool"], "pool-zfs": ["zfs-missing"]}
    assert "--source-format gpt" in got["pool-disk"]["feedback"]
    assert started["es"]["pool-zfs"]["feedback"].startswith("No hay ningún grupo de almacenamiento 'lab5-zfs'")


def test_the_solution_scores_full_marks_and_grading_changes_nothing(solved):
    got = solved["first"]
    assert total(got) == 10 and all(e["score"] == e["max_score"] for e in got.values())
    assert solved["first"] == solved["second"] and solved["before"] == solved["after"]
    assert any("<backingStore>" in xml for key, xml in solved["before"].items() if key.endswith("/data-snap"))
    assert total(solved["again"]) == 10                     # solving twice leaves it correct
    snap = got["snap-lvm"]["feedback"]
    assert "storage-level snapshot" in snap and "raw included" in snap and "virsh snapshot-list" in snap
    assert "/dev/vd" in got["pool-disk"]["feedback"]        # the device the pool is on is named
    es = solved["es"]["snap-lvm"]["feedback"]
    assert "instantánea a nivel de almacenamiento" in es and "raw incluido" in es


def solve(uri: str, env: dict) -> None:
    """The reference solution on the host now, from lab start (other tests leave their states)."""
    started, _ = lab_start(uri, env)
    assert started.returncode == 0, started.stderr
    done = run([sys.executable, "-m", "labs.lab5.solution", uri], env)
    assert done.returncode == 0, done.stderr


def test_lab_start_resets_a_solved_host(uri, vmenv):
    """Including what the notebook leaves: ZFS snapshots of vol1, written LVs (udev busy)."""
    solve(uri, vmenv)
    ssh = shlex.split(vmenv["LAB_SSH_A"])
    made = run(ssh + ["zfs snapshot lab5-zfs/vol1@kept && dd if=/dev/urandom of=/dev/zvol/lab5-zfs/vol1 "
                      "bs=1M count=4 oflag=direct status=none && zfs list -H -t snapshot -o name"], vmenv)
    assert "lab5-zfs/vol1@kept" in made.stdout, made.stderr
    done, seconds = lab_start(uri, vmenv)
    assert done.returncode == 0, done.stderr
    assert total(grade(uri, vmenv)) == 0
    conn = libvirt.openReadOnly(uri)
    try:
        assert not {"lab5-disk", "lab5-vg", "lab5-zfs"} & set(conn.listStoragePools() + conn.listDefinedStoragePools())
    finally:
        conn.close()
    blank = run(shlex.split(vmenv["LAB_SSH_A"]) + ["blkid -p " + vmenv["LAB_DISKS"] + "; wipefs " + vmenv["LAB_DISKS"]], vmenv)
    assert blank.stdout.strip() == "", blank.stdout         # no signature left on any spare disk
    assert seconds < SLOW


def test_lab_start_takes_back_a_zpool_the_student_deleted(uri, vmenv):
    """`virsh pool-delete lab5-zfs` (the course teaches pool-delete) runs `zpool destroy`, which
    leaves ZFS's partitions on the disk: lab start takes that disk back, as ZFS itself does."""
    solve(uri, vmenv)
    steps(uri, vmenv, ["pool-destroy lab5-zfs", "pool-delete lab5-zfs", "pool-undefine lab5-zfs"])
    ssh, zfs_disk = shlex.split(vmenv["LAB_SSH_A"]), vmenv["LAB_DISKS"].split()[2]
    assert "zfs_member" in run(ssh + [f"lsblk -nr -o FSTYPE {zfs_disk}"], vmenv).stdout   # left behind
    done, _ = lab_start(uri, vmenv)
    assert done.returncode == 0, done.stderr
    assert run(ssh + [f"blkid -p {zfs_disk}; lsblk -nr -o NAME {zfs_disk}"], vmenv).stdout.split() == [zfs_disk[5:]]


def test_lab_start_leaves_an_exported_zpool_for_its_owner(uri, vmenv):
    """An exported zpool is data someone means to import: ZFS refuses to reuse its disk without
    force, and so does lab start, which says how to free the disk and writes nothing on it."""
    lab_start(uri, vmenv)
    ssh, zfs_disk = shlex.split(vmenv["LAB_SSH_A"]), vmenv["LAB_DISKS"].split()[2]
    made = run(ssh + [f"zpool create -m none keepme {zfs_disk} && zpool export keepme"], vmenv)
    assert made.returncode == 0, made.stderr
    try:
        line = _refused(lab_start(uri, vmenv)[0])
        assert f"{zfs_disk} holds a gpt partition table" in line and "wipefs -a" in line
        back = run(ssh + ["zpool import keepme && zpool list -H -o name keepme"], vmenv)
        assert back.stdout.strip() == "keepme", back.stderr      # still whole, importable
    finally:
        run(ssh + ["zpool import keepme 2>/dev/null; zpool destroy keepme"], vmenv)
    done, _ = lab_start(uri, vmenv)             # destroyed now: the disk is free again
    assert done.returncode == 0, done.stderr


# --- every wrong state the curriculum names -----------------------------------------------------

PHRASES = {  # message key -> what the student must read, in English and Spanish
    "snap-no-backing": ("shares its blocks with its origin", "comparte sus bloques con su origen"),
    "disk-inactive": ("not active", "no está activo"),
    "pool-transient": ("is transient", "es transitorio"),
    "disk-wrong-format": ("not 'gpt'", "no 'gpt'"),
    "data-wrong-capacity": ("not 256 MiB", "no 256 MiB"),
    "zvol-missing": ("holds no volume 'vol1'", "no contiene ningún volumen 'vol1'"),
    "snap-full-size": ("as much as a full copy", "tanto como una copia completa"),
}
WRONG = ["snap-plain-volume", "disk-defined-only", "vg-transient", "disk-dos", "data-128m",
         "zfs-no-zvol", "snap-full-size"]


@pytest.mark.parametrize("case", WRONG)
def test_wrong_state_is_graded_with_teaching_feedback(uri, vmenv, solved, case):
    commands, expect = capture.CASES[case]
    done, _ = lab_start(uri, vmenv)
    assert done.returncode == 0, done.stderr
    steps(uri, vmenv, commands)
    graded = {"en": grade(uri, vmenv), "es": grade(uri, vmenv, "es")}
    for exercise, wanted in expect.items():
        got = graded["en"][exercise]
        assert (got["score"], got["messages"]) == (wanted["score"], wanted["messages"]), got["feedback"]
        for key in wanted["messages"]:
            en, es = PHRASES[key] if key in PHRASES else ("", "")
            assert en in got["feedback"] and es in graded["es"][exercise]["feedback"]


# --- disks lab start must refuse ----------------------------------------------------------------

def _refused(done) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_lab_start_refuses_the_mounted_system_disk(uri, vmenv):
    """Refused before anything changes: the solved pools on the other disks stay as they were."""
    solve(uri, vmenv)
    before = host_state(uri)
    disks = vmenv["LAB_DISKS"].split()
    done, _ = lab_start(uri, vmenv, "--disks", " ".join(["/dev/vda", *disks[1:]]))
    line = _refused(done)
    assert "/dev/vda holds data lab5 did not put there" in line and "system's own disk" in line
    mounted = run(shlex.split(vmenv["LAB_SSH_A"]) + ["findmnt -n -o SOURCE /"], vmenv)
    assert mounted.stdout.strip() == "/dev/vda"            # untouched: the host still runs from it
    assert host_state(uri) == before
    done, _ = lab_start(uri, vmenv)                        # and the right disks start as usual
    assert done.returncode == 0, done.stderr


def test_lab_start_refuses_a_disk_in_another_volume_group_and_leaves_it(uri, vmenv, solved):
    lab_start(uri, vmenv)
    other = "pool-define-as other logical --source-dev {disk2} --source-name othervg"
    steps(uri, vmenv, [other, "pool-build other"])
    try:
        line = _refused(lab_start(uri, vmenv)[0])
        assert "is in use by pool 'other'" in line            # libvirt's own source conflict
        steps(uri, vmenv, ["pool-undefine other"])             # the volume group stays on the disk
        line = _refused(lab_start(uri, vmenv)[0])
        assert "physical volume of LVM volume group 'othervg'" in line and "in use" in line
        conn = libvirt.open(uri)
        try:
            assert "othervg" in conn.findStoragePoolSources("logical", None, 0)
        finally:
            conn.close()
    finally:
        steps(uri, vmenv, ["-pool-undefine other", other, "-pool-delete other", "-pool-undefine other"])


def test_lab_start_refuses_a_disk_another_pool_uses(uri, vmenv, solved):
    lab_start(uri, vmenv)
    steps(uri, vmenv, ["pool-define-as mine disk --source-dev {disk1} --source-format gpt --target /dev",
                       "pool-build mine", "pool-start mine"])
    try:
        line = _refused(lab_start(uri, vmenv)[0])
        assert "is in use by pool 'mine'" in line
    finally:
        steps(uri, vmenv, ["-pool-destroy mine", "-pool-undefine mine"])
        done, _ = lab_start(uri, vmenv, "--disks", vmenv["LAB_DISKS"])
        # mine's empty GPT is not lab5's: lab start still refuses it, saying how to erase it
        if done.returncode:
            assert "wipefs -a" in _refused(done)
            run(shlex.split(vmenv["LAB_SSH_A"]) + [f"wipefs -a {vmenv['LAB_DISKS'].split()[0]}"], vmenv)


def test_lab_start_refuses_a_device_that_is_not_there(uri, vmenv):
    disks = vmenv["LAB_DISKS"].split()
    line = _refused(lab_start(uri, vmenv, "--disks", " ".join([*disks[:2], "/dev/vdz"]))[0])
    assert "/dev/vdz is not a block device" in line and "lab hosts up --vm" in line


# --- the notebook -------------------------------------------------------------------------------

def test_the_notebook_solves_the_lab_and_measures(notebook):
    assert total(notebook["graded"]) == 10
    text = printed(notebook["nb"])
    for ex in EXERCISES:
        assert f"✔ {ex}:" in text                          # each check-my-work cell said so
    cow = [line for line in text.splitlines() if line.startswith("written") and "copy-on-write used" in line]
    used = [float(line.split("copy-on-write used")[1].split()[0]) for line in cow]
    allocation = {line.split("libvirt allocation")[1].split()[0] for line in cow}
    assert len(used) == 7 and used[-1] > used[0] + 40     # 48 MiB written: COW used grows
    assert allocation == {"64.0"}                           # libvirt reports the reservation
    assert text.count("data back after rollback: yes") == 2     # ZFS and qcow2
    refer = [float(line.split("ZFS referenced")[1].split()[0]) for line in text.splitlines()
             if "ZFS referenced" in line]
    assert len(refer) == 5 and refer[-1] > refer[0] + 60   # 64 MiB into a sparse zvol
    charts = [o for c in notebook["nb"].cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(charts) == 3


def test_the_notebook_runs_twice_in_a_row(notebook):
    assert total(notebook["again"]) == 10
    assert printed(notebook["rerun"]).count("✔ ") == 8


# --- a light host ---------------------------------------------------------------------------------

def test_lab5_on_a_light_host_stops_with_one_line(labhosts):
    env = {**os.environ, **labhosts.env}
    line = _refused(lab_start(labhosts.uri("a"), env)[0])
    assert "lab5 needs a host with its own kernel" in line and "`lab hosts up --vm`" in line
    done = run([BIN / "lab", "finish", "lab5", "--host", labhosts.uri("a")], env)
    assert done.returncode == 0, done.stderr                # finishing there is a no-op
