"""lab4 end to end on two real lab hosts: `lab start lab4`, the notebook, the wrong states the
issue names (made with the fixtures' recipes), read-only grading, and a restart of B's libvirtd.

Every test starts from `lab start lab4`, so each one is independent of the others' order.
"""
from __future__ import annotations

import json
import os
import signal
import time

import libvirt
import nbformat
import pytest
from click.testing import CliRunner
from nbclient import NotebookClient

from grader import ROOT
from grader import labhosts as lab_hosts
from grader.cli.main import grade, lab
from grader.labhosts import daemons, procs
from grader.labhosts.config import Settings
from labs.lab4.names import COLD, LIVE, SHARED_POOL
from labs.lab4.fixtures import capture

pytestmark = pytest.mark.labhost

NOTEBOOK = ROOT / "notebooks" / "lab4" / "lab4.ipynb"
#: A third lab host, started by this module only, whose libvirtd it may restart; the module
#: stops it at the end, so `lab hosts list` shows only a and b again.
RESTART_HOST = "l4restart"




# --- helpers ------------------------------------------------------------------------------------

def _share(env: dict) -> str:
    return f"{env['LAB_SHARE_FORMAT']}://{env['LAB_SHARE_HOST']}{env['LAB_SHARE_PATH']}"


def _hosts(uri_a: str, uri_b: str) -> list[str]:
    return ["--host", f"A={uri_a}", "--host", f"B={uri_b}"]


def lab_start(env: dict, uri_b: str | None = None) -> None:
    uri_b = uri_b or env["LAB_URI_B"]
    result = CliRunner().invoke(lab, ["start", "lab4", *_hosts(env["LAB_URI_A"], uri_b),
                                      "--share", _share(env)])
    assert result.exit_code == 0, result.output


def grade_json(uri_a: str, uri_b: str, *extra: str) -> dict:
    result = CliRunner().invoke(grade, ["lab4", *_hosts(uri_a, uri_b), "--format", "json", *extra])
    assert "Traceback" not in result.output
    assert result.exit_code == 0, result.output
    return {e["id"]: e for e in json.loads(result.stdout)["results"][0]["exercises"]}


def total(graded: dict) -> float:
    return sum(e["score"] for e in graded.values())


def drive(uri_a: str, uri_b: str, steps) -> None:
    a, b = libvirt.open(uri_a), libvirt.open(uri_b)
    try:
        steps(a, b)
    finally:
        a.close()
        b.close()


def host_state(uri: str) -> dict[str, str]:
    """Everything of lab4 the host reports, read-only, to compare before and after grading;
    the completed-job statistics too (reading them with the keep flag must not erase them)."""
    conn = libvirt.openReadOnly(uri)
    try:
        out = {}
        for dom in conn.listAllDomains(0):
            if dom.name().startswith("lab4-"):
                out[dom.name()] = dom.XMLDesc(0)
                out[f"{dom.name()} state"] = str(dom.state(0))
                if dom.isPersistent():
                    out[f"{dom.name()} inactive"] = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
                if dom.isActive():
                    out[f"{dom.name()} job"] = str(sorted(dom.jobStats(
                        libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED
                        | libvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED).items()))
        for pool in conn.listAllStoragePools(0):
            if pool.name().startswith("lab4-"):
                out[f"pool {pool.name()}"] = pool.XMLDesc(0) + f" active={pool.isActive()}"
                if pool.isActive():
                    out[f"pool {pool.name()} volumes"] = str(sorted(pool.listVolumes()))
        return out
    finally:
        conn.close()


def run_notebook(env: dict) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    saved = dict(os.environ)
    os.environ.update({k: env[k] for k in ("LAB_URI_A", "LAB_URI_B")})
    os.environ.pop("NBGRADER_EXECUTION", None)
    try:
        NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


def restart_libvirtd(settings: Settings, name: str) -> None:
    """Stop only libvirtd of a lab host this module started, and start it again in the same mount
    namespace: its running QEMU domains stay up, as after `systemctl restart libvirtd`."""
    hdir = settings.host_dir(name)
    pid = daemons.pid(settings, name)
    ns = procs.mount_ns(pid)
    holder = next(p for p in procs.pids_in_ns(ns) if p != pid)   # virtlogd or a QEMU
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while procs.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not procs.alive(pid), "libvirtd did not stop"
    procs.spawn_detached(["nsenter", f"--mount=/proc/{holder}/ns/mnt", "--",
                          "libvirtd", "--listen", "-p", "/run/libvirt/libvirtd.pid"],
                         hdir / "daemon.log", hdir / "libvirtd.pid")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if daemons.is_up(settings, name) and procs.port_open(settings.port(name)):
            try:
                libvirt.openReadOnly(settings.uri(name)).close()
                return
            except libvirt.libvirtError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"libvirtd of {name} did not come back")


@pytest.fixture(scope="module", autouse=True)
def finished_afterwards(labhosts):
    """Leave hosts a and b without lab4: its pool on the shared export would keep other labs'
    pools from using the same source ("Storage source conflict")."""
    yield
    env = labhosts.env
    CliRunner().invoke(lab, ["finish", "lab4", *_hosts(env["LAB_URI_A"], env["LAB_URI_B"])])
    lab_hosts.down([RESTART_HOST], purge=True)


# --- the tests ----------------------------------------------------------------------------------

def test_start_scores_zero_and_leaves_b_without_lab4(labhosts):
    env = labhosts.env
    lab_start(env)
    drive(env["LAB_URI_A"], env["LAB_URI_B"], capture.solve)   # B full of lab4's objects first
    lab_start(env)
    graded = grade_json(env["LAB_URI_A"], env["LAB_URI_B"])
    assert total(graded) == 0
    assert graded["live-migrate"]["messages"] == ["live-not-on-b"]
    assert "unsafe" in graded["live-migrate"]["feedback"]
    assert host_state(env["LAB_URI_B"]) == {}
    on_a = host_state(env["LAB_URI_A"])
    assert on_a[f"{LIVE} state"].startswith("[1,") and on_a[f"{COLD} state"].startswith("[5,")


def test_notebook_scores_ten_and_grading_changes_nothing(labhosts):
    env = labhosts.env
    lab_start(env)
    nb = run_notebook(env)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "Unsafe migration" in printed          # libvirt refused the local-disk live migration
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.outputs)                 # the cost chart
    before = {r: host_state(env[f"LAB_URI_{r}"]) for r in "AB"}
    assert "'operation', 4" in before["B"][f"{LIVE} job"]   # an incoming migration, recorded
    graded = grade_json(env["LAB_URI_A"], env["LAB_URI_B"])
    graded_es = grade_json(env["LAB_URI_A"], env["LAB_URI_B"], "--lang", "es")
    assert {k: e["score"] for k, e in graded.items()} == {
        "cold-migrate": 4, "shared-pool": 2, "live-migrate": 4}
    assert "shared storage" in graded["live-migrate"]["feedback"]
    assert "almacenamiento compartido" in graded_es["live-migrate"]["feedback"]
    assert {r: host_state(env[f"LAB_URI_{r}"]) for r in "AB"} == before


def test_cold_move_of_live_then_started_on_b_is_half(labhosts):
    env = labhosts.env
    lab_start(env)
    drive(env["LAB_URI_A"], env["LAB_URI_B"], capture.live_cold_move)
    got = grade_json(env["LAB_URI_A"], env["LAB_URI_B"])["live-migrate"]
    assert (got["score"], got["messages"]) == (2, ["live-cold-move"])
    assert "state reason: booted" in got["feedback"] and "not that it arrived by a live migration" in got["feedback"]


def test_shared_pool_with_another_source_scores_zero(labhosts):
    env = labhosts.env
    lab_start(env)
    drive(env["LAB_URI_A"], env["LAB_URI_B"], capture.shared_other_source)
    got = grade_json(env["LAB_URI_A"], env["LAB_URI_B"])["shared-pool"]
    assert (got["score"], got["messages"]) == (0, ["shared-other-source"])
    assert "/another-volume" in got["feedback"] and env["LAB_SHARE_PATH"] in got["feedback"]


def test_cold_domain_with_its_disk_left_on_a_is_not_full_marks(labhosts):
    env = labhosts.env
    lab_start(env)
    drive(env["LAB_URI_A"], env["LAB_URI_B"], capture.cold_define_only)
    got = grade_json(env["LAB_URI_A"], env["LAB_URI_B"])["cold-migrate"]
    assert got["score"] < 4
    assert got["messages"] == ["cold-disk-not-on-b"]


def test_live_evidence_survives_a_restart_of_b_libvirtd(labhosts):
    env = labhosts.env
    settings = Settings.from_env()
    host_b = _restart_host()
    try:
        lab_start(env, host_b.uri)
        drive(env["LAB_URI_A"], host_b.uri, capture.solve)
        assert total(grade_json(env["LAB_URI_A"], host_b.uri)) == 10
        restart_libvirtd(settings, RESTART_HOST)
        state = host_state(host_b.uri)
        assert state[f"{LIVE} state"].startswith("[1,")   # the domain kept running
        assert "'operation', 4" not in state[f"{LIVE} job"]   # the weaker signal is gone...
        graded = grade_json(env["LAB_URI_A"], host_b.uri)
        assert total(graded) == 10                      # ...libvirt's state reason is not
        assert graded["live-migrate"]["messages"] == ["live-ok"]
    finally:
        CliRunner().invoke(lab, ["finish", "lab4", *_hosts(env["LAB_URI_A"], host_b.uri)])


def _restart_host():
    return next(h for h in lab_hosts.up([RESTART_HOST]) if h.name == RESTART_HOST)


def test_finish_cleans_both_hosts_but_keeps_other_files_on_the_share(labhosts, token):
    env = labhosts.env
    lab_start(env)
    drive(env["LAB_URI_A"], env["LAB_URI_B"], capture.solve)
    foreign = f"t-{token}.qcow2"
    a = libvirt.open(env["LAB_URI_A"])
    try:
        a.storagePoolLookupByName(SHARED_POOL).createXML(
            f"<volume><name>{foreign}</name><capacity>1048576</capacity>"
            "<target><format type='qcow2'/></target></volume>", 0)
        result = CliRunner().invoke(lab, ["finish", "lab4", *_hosts(env["LAB_URI_A"], env["LAB_URI_B"])])
        assert result.exit_code == 0, result.output
        assert host_state(env["LAB_URI_A"]) == {} and host_state(env["LAB_URI_B"]) == {}
        lab_start(env)   # mounts the export again on A: the foreign file is still there
        pool = a.storagePoolLookupByName(SHARED_POOL)
        pool.refresh(0)
        assert foreign in pool.listVolumes()
        pool.storageVolLookupByName(foreign).delete(0)
    finally:
        a.close()
