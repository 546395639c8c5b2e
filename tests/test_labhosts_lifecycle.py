"""`up`, `down` and TCG fallback on a scratch LAB_HOME of its own (own names, own ports).

Never touches the shared hosts a and b: a test of `down` must not kill what other tests and
developers use. Everything here runs real daemons.
"""
from __future__ import annotations

import libvirt
import pytest
from click.testing import CliRunner

from grader import labhosts
from grader.cli.main import lab
from grader.labhosts import gluster, iscsi, procs
from grader.labhosts.config import Settings
from grader.reading.connection import open_bounded
from grader.labhosts.kvm import domain_type

pytestmark = pytest.mark.labhost

@pytest.fixture(scope="module")
def scratch(tmp_path_factory, port_base):
    """A LAB_HOME of its own; whatever a test leaves up is brought down at the end."""
    env = {"LAB_HOME": str(tmp_path_factory.mktemp("labhome")),
           "LAB_PORT_BASE": port_base(["ta", "tb", "tcg"])}
    settings = Settings.from_env(env)
    yield env, settings
    labhosts.down(settings=settings, purge=True)


def snapshot(settings: Settings) -> dict:
    """Every process of ours in this LAB_HOME, and how to find any that survives."""
    namespaces = {}
    for name in ("ta", "tb"):
        ns = (settings.host_dir(name) / "mntns")
        if ns.exists():
            namespaces[name] = ns.read_text().strip()
    return {"namespaces": namespaces, "tgtd": iscsi.pid(settings),
            "libvirtd": {n: procs.read_pid(settings.host_dir(n) / "libvirtd.pid")
                         for n in namespaces}}


def brick_pids(settings: Settings) -> list[int]:
    return [p for p in procs.pids_by_comm("glusterfsd")
            if any(settings.share_volume + "." in arg for arg in procs.cmdline(p))]


def test_no_usable_kvm_falls_back_to_tcg_and_says_so(scratch):
    env, settings = scratch
    result = CliRunner().invoke(lab, ["hosts", "up", "tcg"], env={**env, "LAB_ACCEL": "tcg"})
    assert result.exit_code == 0, result.output
    assert [line.split()[4] for line in result.output.splitlines()
            if line.startswith("tcg ")] == ["tcg"]
    assert "domains run under TCG" in result.output
    conn = open_bounded(settings.uri("tcg"), write=True)
    try:
        assert domain_type(conn) == "qemu"
        dom = conn.createXML(
            "<domain type='qemu'><name>t-tcg</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os></domain>")
        assert dom.isActive()
        dom.destroy()
    finally:
        conn.close()
    labhosts.down(["tcg"], settings=settings, purge=True)


def test_require_kvm_without_kvm_is_one_line_and_starts_nothing(scratch):
    env, settings = scratch
    result = CliRunner().invoke(lab, ["hosts", "up", "--require-kvm", "nokvm"],
                                env={**env, "LAB_ACCEL": "tcg"})
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "KVM is required" in result.stderr
    assert not settings.host_dir("nokvm").exists()


def busy(settings: Settings):
    """Host ta at work: a running domain (a QEMU for `down` to stop) and a FUSE mount of the
    GlusterFS volume inside it, each made once (the module's tests run in any order)."""
    conn = open_bounded(settings.uri("ta"), write=True)
    if "t-keep" not in [d.name() for d in conn.listAllDomains(0)]:
        conn.createXML(
            f"<domain type='{domain_type(conn)}'><name>t-keep</name><memory unit='MiB'>64</memory>"
            "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>")
    if "t-share" not in conn.listStoragePools():
        conn.storagePoolCreateXML(
            f"""<pool type='netfs'><name>t-share</name><source><host name='{settings.share_host}'/>
            <dir path='/{settings.share_volume}'/><format type='glusterfs'/></source>
            <target><path>/var/lib/libvirt/t-share</path></target></pool>""",
            libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
    assert conn.storagePoolLookupByName("t-share").isActive()
    return conn


def test_up_twice_is_harmless(scratch):
    env, settings = scratch
    first = labhosts.up(["ta", "tb"], settings=settings)
    assert [(h.name, h.state) for h in first] == [("ta", "up"), ("tb", "up")]
    conn = busy(settings)
    before = snapshot(settings)

    again = CliRunner().invoke(lab, ["hosts", "up", "ta", "tb"], env=env)
    assert again.exit_code == 0, again.output
    assert snapshot(settings) == before
    assert conn.lookupByName("t-keep").isActive()  # untouched
    conn.close()


def test_down_leaves_no_process_mount_or_state(scratch):
    env, settings = scratch
    labhosts.up(["ta", "tb"], settings=settings)
    busy(settings).close()
    before = snapshot(settings)
    assert len(before["namespaces"]) == 2 and before["tgtd"] and brick_pids(settings)
    qemus = [p for ns in before["namespaces"].values() for p in procs.pids_in_ns(ns)
             if "qemu-system" in " ".join(procs.cmdline(p))]
    assert qemus, "no running domain on ta for `down` to stop"
    glusterd_was_ours = gluster._ours() is not None

    result = CliRunner().invoke(lab, ["hosts", "down"], env=env)
    assert result.exit_code == 0, result.output

    for ns in before["namespaces"].values():  # libvirtd, virtlogd, QEMU, FUSE clients
        assert procs.pids_in_ns(ns) == []
    assert not any(procs.alive(p) for p in before["libvirtd"].values())
    assert not procs.alive(before["tgtd"])
    assert brick_pids(settings) == []
    assert settings.share_volume not in gluster.volumes()
    if glusterd_was_ours and not gluster.volumes():
        assert gluster.glusterd_pids() == []  # nobody else needs it
    with open("/proc/mounts") as f:
        mounts = f.read()
    assert str(settings.home) not in mounts and settings.share_volume not in mounts
    for name in ("ta", "tb"):
        assert list((settings.host_dir(name) / "run").iterdir()) == []
    assert all(h.state == "down" for h in labhosts.status(settings))
