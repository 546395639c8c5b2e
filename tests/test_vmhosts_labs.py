"""lab1-lab4 end to end on VM hosts, where the shared storage is the kernel's own: `lab start` →
0 with feedback, the notebook → 10/10, `grade` as the installed command. On VM hosts lab1's
`pool-netfs` is an NFS pool and its `pool-iscsi` the kernel initiator's `iscsi` type; lab4's
`lab4-shared` is on NFS and its notebook also live-migrates a machine whose disk is a LUN of the
kernel iSCSI target. (lab5 has its own module, tests/test_lab5_e2e.py.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libvirt
import nbformat
import pytest
from lxml import etree
from nbclient import NotebookClient

from grader import ROOT

pytestmark = [pytest.mark.labhost, pytest.mark.slow]

BIN = Path(sys.executable).parent
LABS = {"lab1": ["pool-dir", "pool-netfs", "pool-iscsi", "pool-volume"],
        "lab2": ["vol-raw", "vol-qcow2", "vol-convert", "vol-overlay", "vol-overcommit"],
        "lab3": ["snap-offline", "snap-live", "snap-revert", "snap-external"],
        "lab4": ["cold-migrate", "shared-pool", "live-migrate"]}
#: Emulated hosts: a notebook cell may take a minute (lab2's benchmark, lab4's migrations).
CELL_TIMEOUT = 600


def hosts_of(lab: str, env: dict) -> list[str]:
    uris = [f"A={env['LAB_URI_A']}"]
    if lab == "lab4":
        uris.append(f"B={env['LAB_URI_B']}")
    return [arg for uri in uris for arg in ("--host", uri)]


def run(argv, env, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True,
                          timeout=timeout)


def grade(lab: str, env: dict) -> dict[str, dict]:
    done = run([BIN / "grade", lab, *hosts_of(lab, env), "--format", "json"], env)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return {e["id"]: e for e in json.loads(done.stdout)["results"][0]["exercises"]}


def run_notebook(lab: str, env: dict) -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(ROOT / "notebooks" / lab / f"{lab}.ipynb", as_version=4)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as cwd:
        NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                       resources={"metadata": {"path": cwd}}).execute(env=env)
    return nb, time.monotonic() - started


def outputs(nb) -> str:
    """What the notebook printed and displayed (streams, Markdown tables, plain values)."""
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            texts.append(out.get("text", ""))
            texts += [out.get("data", {}).get(kind, "") for kind in ("text/markdown", "text/plain")]
    return "\n".join(texts)


@pytest.fixture(scope="module", params=sorted(LABS))
def lab_run(request, vmhosts):
    """One lab on the VM hosts: started, graded, solved by its notebook, graded again."""
    lab = request.param
    env = {**os.environ, **vmhosts.env, "LAB_LANG": "en"}
    env.pop("NBGRADER_EXECUTION", None)
    started = run([BIN / "lab", "start", lab, *hosts_of(lab, env)], env)
    assert started.returncode == 0, started.stderr
    before = grade(lab, env)
    nb, seconds = run_notebook(lab, env)
    after = grade(lab, env)
    conns = {role: libvirt.openReadOnly(env[f"LAB_URI_{role}"]) for role in ("A", "B")}
    pools = {role: {p.name(): etree.fromstring(p.XMLDesc(0).encode()) for p in c.listAllStoragePools()}
             for role, c in conns.items()}
    for conn in conns.values():
        conn.close()
    yield {"lab": lab, "before": before, "after": after, "nb": nb, "seconds": seconds, "pools": pools}
    run([BIN / "lab", "finish", lab, *hosts_of(lab, env)], env)


def test_lab_start_scores_zero_with_feedback_and_the_notebook_scores_ten(lab_run):
    lab, before, after = lab_run["lab"], lab_run["before"], lab_run["after"]
    assert sorted(before) == sorted(LABS[lab]) == sorted(after)
    assert all(e["score"] == 0 and e["feedback"] for e in before.values()), before
    assert sum(e["score"] for e in after.values()) == 10, {k: (e["score"], e["feedback"]) for k, e in after.items()}
    assert all(e["score"] == e["max_score"] for e in after.values())
    print(f"{lab} notebook on VM hosts: {lab_run['seconds']:.0f} s")


def test_the_notebook_used_the_kernels_shared_storage(lab_run):
    lab, pools = lab_run["lab"], lab_run["pools"]
    if lab == "lab1":
        assert pools["A"]["lab1-shared"].find("source/format").get("type") == "nfs"
        assert pools["A"]["lab1-iscsi"].get("type") == "iscsi"
        feedback = lab_run["after"]["pool-iscsi"]["feedback"]
        assert "iscsi" in feedback.lower()
    elif lab == "lab4":
        for role in ("A", "B"):
            assert pools[role]["lab4-shared"].find("source/format").get("type") == "nfs"
        text = outputs(lab_run["nb"])
        assert "lab4-iscsi iscsi unit:0:0:0 /dev/disk/by-path/ip-" in text   # the kernel's initiator
        assert "running on B: True" in text
        assert "| live, iSCSI LUN |" in text                               # a row of the cost table
    else:
        pytest.skip(f"{lab} uses no shared storage")
