"""Only the user who started the lab hosts can open them (issue 19): every URI `lab hosts env`
prints, the raw ports behind them and the hosts' unix sockets refuse `nobody`, while root keeps
read-write and read-only access; the private libvirtd of simulated classes refuses nobody too.
(VM hosts: tests/test_vmhosts_live.py.)"""
from __future__ import annotations

import shutil

import libvirt
import pytest

import accesshelp
import nobodyhelp
from grader.labhosts.config import Settings
from grader.testing import simclass
from grader.testing.loopback import PrivateLibvirtd

pytestmark = pytest.mark.labhost


@pytest.fixture(scope="module")
def nobody():
    """(forged pki, nobody's home, a world-readable copy of the packages), removed after."""
    forged, home, site = accesshelp.forged_pki(), nobodyhelp.nobody_home(), nobodyhelp.world_readable_site()
    yield forged, home, site
    for folder in (forged, home, site):
        shutil.rmtree(folder, ignore_errors=True)


def printed_uris(env: dict) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("LAB_URI_") or k == "LIBVIRT_DEFAULT_URI"}


def test_nobody_cannot_list_define_or_upload_on_any_light_host(labhosts, nobody):
    forged, home, site = nobody
    uris = printed_uris(labhosts.env)
    assert {"LAB_URI_A", "LAB_URI_B", "LIBVIRT_DEFAULT_URI"} <= set(uris)
    for key, uri in uris.items():
        tried = accesshelp.attempts(uri, forged, home)
        tried["python"] = accesshelp.python_as_nobody(uri, site, home)
        assert accesshelp.refused(tried) == [], key
        # why each failed: nobody cannot read the client key; plain TCP and forged
        # certificates are turned away by the server
        assert "Permission denied" in tried["as printed: list"].stderr
        assert "Permission denied" in tried["python"].stderr
    for name in ("a", "b"):
        conn = libvirt.open(labhosts.uri(name))
        try:
            assert accesshelp.POOL not in conn.listDefinedStoragePools() + conn.listStoragePools()
        finally:
            conn.close()


def test_nobody_cannot_reach_a_light_hosts_unix_sockets(labhosts, nobody):
    _, home, _ = nobody
    run = Settings.from_env().host_dir("a") / "run"
    for sock in ("libvirt-sock", "libvirt-sock-ro"):
        assert (run / sock).is_socket()
        done = accesshelp.virsh_as_nobody(f"qemu+unix:///system?socket={run / sock}", "list",
                                          home=home)
        assert done.returncode != 0 and "Permission denied" in done.stderr, done.stderr


def test_root_opens_every_light_host_read_write_and_read_only(labhosts):
    for name in ("a", "b"):
        for conn in (libvirt.open(labhosts.uri(name)), libvirt.openReadOnly(labhosts.uri(name))):
            try:
                assert conn.getHostname() and conn.listAllStoragePools() is not None
            finally:
                conn.close()
        ro = libvirt.openReadOnly(labhosts.uri(name))
        try:
            with pytest.raises(libvirt.libvirtError, match="read only|read-only"):
                ro.storagePoolDefineXML("<pool type='dir'><name>t-ro</name><target>"
                                        "<path>/tmp/t-ro</path></target></pool>")
        finally:
            ro.close()


def test_the_private_libvirtd_of_simulated_classes_refuses_nobody(tmp_path, nobody):
    forged, home, _ = nobody
    host = tmp_path / "host.xml"
    host.write_text(simclass.host_xml("right"))
    with PrivateLibvirtd(tmp_path) as daemon:
        conn = libvirt.openReadOnly(daemon.uri(host))       # root: the simulated host
        try:
            assert "lab3" in conn.listStoragePools()
        finally:
            conn.close()
        done = accesshelp.virsh_as_nobody(daemon.uri(host), "-r", "pool-list", home=home)
        assert done.returncode != 0 and "Permission denied" in done.stderr, done.stderr
        # and it listens on no TCP port at all: only its socket, in a directory of root's
        ports = [line for line in open("/proc/net/tcp").read().splitlines()[1:]
                 if line.split()[3] == "0A" and _inode_of(daemon.proc.pid, line.split()[9])]
        assert ports == []


def _inode_of(pid: int, inode: str) -> bool:
    """Whether the socket `inode` belongs to one of the daemon's processes (the namespace
    script's child is libvirtd itself: it execs)."""
    import os

    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                return True
        except OSError:
            continue
    return False
