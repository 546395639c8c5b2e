"""Real VM hosts a and b (their own kernel): what they are, the kernel services the seed names
(NFS, kernel iSCSI, LVM, ZFS) observed through libvirt, live migration over NFS and over kernel
iSCSI, a guest that does not boot, and `down` leaving nothing behind.

The hosts come from the fixture `vmhosts` (in their own LAB_HOME; resumed for this module). LVM and
ZFS pools are exercised end to end by lab5 (tests/test_lab5_e2e.py); here they are listed among
the pool types the guests' libvirt runs. Everything a test creates is named `t-...-<token>`.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import libvirt
import pytest
from lxml import etree

import accesshelp
import nobodyhelp
from grader.labhosts import vm, vmimage, vmstate
from grader.labhosts.config import Settings
from grader.testing.loopback import free_port_base
from migratehelp import (domain_xml, file_disk, migrate, remove_domain, remove_pool, shared_pool,
                         start_domain)

pytestmark = [pytest.mark.labhost, pytest.mark.slow]

BIN = Path(sys.executable).parent
#: LUN 0 is the labs'; the suite only ever uses LUN 1 (grader/labhosts/guest/labhost-storage).
TEST_LUN = 1


def lab_hosts(vmhosts, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "lab"), "hosts", *args], env={**os.environ, **vmhosts.lab_env},
                          capture_output=True, text=True, timeout=timeout)


def nfs_pool_xml(env, name: str) -> str:
    return f"""<pool type='netfs'><name>{name}</name>
  <source><host name='{env["LAB_SHARE_HOST"]}'/><dir path='{env["LAB_SHARE_PATH"]}'/>
    <format type='nfs'/></source>
  <target><path>/var/lib/libvirt/{name}</path></target></pool>"""


def kernel_iscsi_pool_xml(env, name: str) -> str:
    return f"""<pool type='iscsi'><name>{name}</name>
  <source><host name='{env["LAB_ISCSI_HOST"]}'/><device path='{env["LAB_ISCSI_TARGET"]}'/></source>
  <target><path>/dev/disk/by-path</path></target></pool>"""


def host_uuid(conn) -> str:
    return etree.fromstring(conn.getCapabilities().encode()).findtext("host/uuid")


# ---------------------------------------------------------------- what they are

def test_lab_hosts_list_shows_vm_hosts_with_their_kernel_and_accelerator(vmhosts):
    listed = lab_hosts(vmhosts, "list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:3]}
    for name in ("a", "b"):
        _, kind, uri, state, accel, kernel = rows[name]
        assert (kind, uri, state) == ("vm", vmhosts.uri(name), "up")
        assert accel in ("kvm", "tcg") and re.fullmatch(r"\d+\.\d+\.\d+-\d+-amd64", kernel)
    guest_kernel = vmhosts.run("a", "uname -r").stdout.strip()
    assert guest_kernel == rows["a"][5] and guest_kernel != os.uname().release


def test_every_uri_is_on_loopback_and_the_spare_disks_are_there(vmhosts):
    env = vmhosts.env
    uris = {k: v for k, v in env.items() if k.startswith("LAB_URI_") or k == "LIBVIRT_DEFAULT_URI"}
    pki = re.escape(str(Settings.from_env(vmhosts.lab_env).pki_dir))
    assert uris and all(re.fullmatch(rf"qemu\+tls://127\.0\.0\.1:\d+/system\?pkipath={pki}", u)
                        for u in uris.values())
    assert env["LAB_SHARE_FORMAT"] == "nfs" and env["LAB_MIGRATE_FLAGS"] == ""
    assert env["LAB_DISKS"] == "/dev/vdb /dev/vdc /dev/vdd"
    for name in ("a", "b"):
        lsblk = vmhosts.run(name, "lsblk -dn -o NAME,SIZE,SERIAL /dev/vda " + env["LAB_DISKS"]).stdout
        rows = [line.split() for line in lsblk.splitlines()]
        assert [r[0] for r in rows] == ["vda", "vdb", "vdc", "vdd"]
        assert [r[1:] for r in rows[1:]] == [["1G", f"lab-spare-{i}"] for i in (1, 2, 3)]
        assert vmhosts.run(name, "findmnt -n -o SOURCE /").stdout.strip() == "/dev/vda"


def test_nobody_cannot_list_define_or_upload_on_any_vm_host(vmhosts):
    """Issue 19: the guests' libvirtd is root there; only this machine's root may open it."""
    forged, home, site = (accesshelp.forged_pki(), nobodyhelp.nobody_home(),
                          nobodyhelp.world_readable_site())
    try:
        for key, uri in vmhosts.env.items():
            if not (key.startswith("LAB_URI_") or key == "LIBVIRT_DEFAULT_URI"):
                continue
            tried = accesshelp.attempts(uri, forged, home)
            tried["python"] = accesshelp.python_as_nobody(uri, site, home)
            assert accesshelp.refused(tried) == [], key
            assert "Permission denied" in tried["as printed: list"].stderr
        for name in ("a", "b"):
            ssh = nobodyhelp.as_nobody(*vm.ssh_command(Settings.from_env(vmhosts.lab_env), name),
                                       "true", home=home)
            assert ssh.returncode != 0
            # nothing in the guest listens on libvirtd's TCP port; its TLS port does
            listening = vmhosts.run(name, "ss -Hltn").stdout
            assert ":16509 " not in listening and ":16514 " in listening, listening
            conn = libvirt.openReadOnly(vmhosts.uri(name))          # root still reads
            try:
                assert accesshelp.POOL not in conn.listDefinedStoragePools() + conn.listStoragePools()
            finally:
                conn.close()
    finally:
        for folder in (forged, home, site):
            shutil.rmtree(folder, ignore_errors=True)


def test_hosts_have_distinct_uuids_that_survive_as_the_vm_uuid(vmhosts, connect):
    a, b = connect(vmhosts.uri("a")), connect(vmhosts.uri("b"))
    assert host_uuid(a) != host_uuid(b)
    settings = Settings.from_env(vmhosts.lab_env)
    for name, conn in (("a", a), ("b", b)):
        assert host_uuid(conn) == (vm.host_dir(settings, name) / "uuid").read_text().strip()


def test_up_twice_is_harmless(vmhosts):
    settings = Settings.from_env(vmhosts.lab_env)
    pids = {n: vm.qemu_pid(settings, n) for n in ("a", "b")}
    started = time.monotonic()
    again = lab_hosts(vmhosts, "up", "--vm")
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - started < 60
    assert {n: vm.qemu_pid(settings, n) for n in ("a", "b")} == pids


def test_libvirtd_does_not_exit_when_idle(vmhosts):
    """Debian's libvirtd quits after 120 idle seconds; the next client then waits for a new one
    (over 5 s under emulation: CI's `lab start` timed out after a quiet stretch)."""
    for name in ("a", "b"):
        args = vmhosts.run(name, "cat /proc/$(pgrep -x libvirtd)/cmdline | tr '\\0' ' '").stdout
        assert args.startswith("/usr/sbin/libvirtd") and "--timeout" not in args, args


def test_a_state_that_does_not_load_is_one_line_and_a_cold_boot_that_keeps_what_b_wrote(
        vmhosts, token):
    """A saved state that cannot be resumed (here: cut short) costs a cold boot, said in one
    line; the storage host a still resumes. What b wrote just before `down` survives (synced
    first), and an iSCSI node record left as zeros (seen after a power-off) does not break the
    next iscsi pool ("iscsiadm failed new mode ... status 6")."""
    settings = Settings.from_env(vmhosts.lab_env)
    target = vmhosts.env["LAB_ISCSI_TARGET"]
    record = f"/etc/iscsi/nodes/{target}/{vmhosts.env['LAB_ISCSI_HOST']},3260,1"
    wrote = vmhosts.run("b", f"echo {token} > /root/t-{token} && mkdir -p '{record}' && "
                             f"head -c 2129 /dev/zero > '{record}/default' && iscsiadm -m node")
    assert "[]:3260" in wrote.stdout, wrote.stdout + wrote.stderr    # the broken state, as seen
    down = lab_hosts(vmhosts, "down")
    assert down.returncode == 0, down.stderr
    state = vmstate.state_file(vm.host_dir(settings, "b"))
    with open(state, "r+b") as f:
        f.truncate(state.stat().st_size // 2)
    again = lab_hosts(vmhosts, "up", "--vm")
    assert again.returncode == 0, again.stderr
    said = [line for line in again.stderr.splitlines() if "could not resume" in line]
    assert len(said) == 1 and said[0].startswith("VM host b: could not resume its saved state ("), \
        again.stderr
    assert "booting it instead" in said[0]
    assert "VM host a resumed, b booted in" in again.stderr
    assert vmhosts.run("b", f"cat /root/t-{token}").stdout.strip() == token
    assert vmhosts.run("b", "ls -A /etc/iscsi/nodes").stdout.strip() == ""
    vmhosts.run("b", f"rm -f /root/t-{token}")


def test_the_guests_libvirt_runs_every_pool_type_the_seed_names(vmhosts, connect):
    caps = etree.fromstring(connect(vmhosts.uri("a")).getStoragePoolCapabilities(0).encode())
    supported = set(caps.xpath("pool[@supported='yes']/@type"))
    assert {"dir", "netfs", "disk", "logical", "zfs", "iscsi"} <= supported


# ---------------------------------------------------------------- NFS and kernel iSCSI

def test_an_nfs_pool_on_both_hosts_shares_its_files(vmhosts, connect, cleanup, token):
    a, b = connect(vmhosts.uri("a")), connect(vmhosts.uri("b"))
    pool_a = shared_pool(a, nfs_pool_xml(vmhosts.env, "t-nfs"), cleanup)
    pool_b = shared_pool(b, nfs_pool_xml(vmhosts.env, "t-nfs"), cleanup)
    assert etree.fromstring(pool_a.XMLDesc().encode()).find("source/format").get("type") == "nfs"
    mounts = vmhosts.run("b", "findmnt -n -t nfs,nfs4 -o SOURCE,TARGET").stdout
    assert f"{vmhosts.env['LAB_SHARE_HOST']}:{vmhosts.env['LAB_SHARE_PATH']}" in mounts
    name = f"t-nfs-{token}.qcow2"
    vol = pool_a.createXML(f"<volume><name>{name}</name><capacity unit='MiB'>16</capacity>"
                           "<target><format type='qcow2'/></target></volume>")
    cleanup(lambda: vol.delete())
    pool_b.refresh()   # each host keeps its own list of a shared pool's volumes
    seen = pool_b.storageVolLookupByName(name)
    assert etree.fromstring(seen.XMLDesc().encode()).find("target/format").get("type") == "qcow2"


def test_a_kernel_iscsi_pool_logs_in_and_lists_the_luns(vmhosts, connect, cleanup):
    b = connect(vmhosts.uri("b"))
    pool = shared_pool(b, kernel_iscsi_pool_xml(vmhosts.env, "t-iscsi"), cleanup)
    volumes = {v.name(): v for v in pool.listAllVolumes()}
    assert len(volumes) >= 2, volumes
    sessions = vmhosts.run("b", "iscsiadm -m session").stdout
    assert vmhosts.env["LAB_ISCSI_TARGET"] in sessions
    paths = sorted(v.path() for v in volumes.values())
    assert all(p.startswith("/dev/disk/by-path/ip-") for p in paths)
    assert any(p.endswith(f"-lun-{TEST_LUN}") for p in paths)


def _lun(pool, number: int):
    return next(v for v in pool.listAllVolumes() if v.path().endswith(f"-lun-{number}"))


def test_live_migration_over_nfs(vmhosts, connect, cleanup, token):
    a, b = connect(vmhosts.uri("a")), connect(vmhosts.uri("b"))
    name = f"t-mig-nfs-{token}"
    pool_a = shared_pool(a, nfs_pool_xml(vmhosts.env, "t-nfs"), cleanup)
    pool_b = shared_pool(b, nfs_pool_xml(vmhosts.env, "t-nfs"), cleanup)
    vol = pool_a.createXML(f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>64"
                           "</capacity><target><format type='qcow2'/></target></volume>")
    cleanup(lambda: vol.delete())
    pool_b.refresh()
    path_b = pool_b.storageVolLookupByName(f"{name}.qcow2").path()
    dom = start_domain(a, domain_xml(a, name, file_disk(vol.path())), cleanup)
    cleanup(lambda: remove_domain(b, name))

    seconds = migrate(dom, b, {}, [(f"'{vol.path()}'", f"'{path_b}'")])   # LAB_MIGRATE_FLAGS: none

    moved = b.lookupByName(name)
    assert moved.isActive() and moved.isPersistent()
    assert name not in [d.name() for d in a.listAllDomains()]
    print(f"NFS live migration between VM hosts: {seconds:.2f} s")


def test_live_migration_over_kernel_iscsi(vmhosts, connect, cleanup, token):
    a, b = connect(vmhosts.uri("a")), connect(vmhosts.uri("b"))
    name = f"t-mig-iscsi-{token}"
    pool_a = shared_pool(a, kernel_iscsi_pool_xml(vmhosts.env, "t-iscsi"), cleanup)
    pool_b = shared_pool(b, kernel_iscsi_pool_xml(vmhosts.env, "t-iscsi"), cleanup)
    lun_a, lun_b = _lun(pool_a, TEST_LUN), _lun(pool_b, TEST_LUN)
    assert lun_a.path() == lun_b.path()    # the same LUN under the same by-path name on both
    disk = ("<disk type='block' device='disk'><driver name='qemu' type='raw' cache='none'/>"
            f"<source dev='{lun_a.path()}'/><target dev='vda' bus='virtio'/></disk>")
    dom = start_domain(a, domain_xml(a, name, disk), cleanup)
    cleanup(lambda: remove_domain(b, name))

    seconds = migrate(dom, b, {})

    assert b.lookupByName(name).isActive()
    assert name not in [d.name() for d in a.listAllDomains()]
    print(f"kernel iSCSI live migration between VM hosts: {seconds:.2f} s")


def test_migration_without_shared_storage_is_refused(vmhosts, connect, cleanup, token):
    a, b = connect(vmhosts.uri("a")), connect(vmhosts.uri("b"))
    name = f"t-unsafe-{token}"
    pool = a.storagePoolDefineXML(f"<pool type='dir'><name>{name}</name>"
                                  f"<target><path>/var/lib/libvirt/{name}</path></target></pool>")
    pool.create(libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
    cleanup(lambda: (pool.destroy(), pool.delete(), pool.undefine()))
    vol = pool.createXML(f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>64</capacity>"
                         "<target><format type='qcow2'/></target></volume>")
    cleanup(lambda: vol.delete())
    dom = start_domain(a, domain_xml(a, name, file_disk(vol.path())), cleanup)
    with pytest.raises(libvirt.libvirtError, match="Unsafe migration"):
        migrate(dom, b, {})
    assert dom.isActive()


# ---------------------------------------------------------------- failures and clean-up

@pytest.fixture
def broken_image(vmhosts, tmp_path):
    """LAB_IMAGES holding an image of the current recipe whose initrd is garbage: its kernel
    boots and panics, as with a corrupted download or a wrong build."""
    real = vmimage.cached(vm.images_home(Settings.from_env(vmhosts.lab_env)))
    fake = vmimage.cached(tmp_path)
    fake.dir.mkdir(parents=True)
    shutil.copyfile(real.kernel, fake.kernel)
    fake.initrd.write_bytes(b"not an initramfs\n" * 64)
    subprocess.run(["truncate", "-s", "64M", str(fake.root)], check=True)
    (fake.dir / "image.json").write_text(json.dumps({**real.info, "recipe": vmimage.recipe_hash()}))
    return tmp_path


def test_a_guest_that_does_not_boot_is_one_line_with_its_console_and_leaves_nothing(
        broken_image, tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "LAB_HOME": str(home), "LAB_IMAGES": str(broken_image),
           "LAB_PORT_BASE": free_port_base(["x"]), "LAB_ACCEL": "tcg"}
    done = subprocess.run([str(BIN / "lab"), "hosts", "up", "--vm", "x"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) - sum(l.startswith("booting") for l in lines) == 1, done.stderr
    assert "VM host x did not boot" in lines[-1] and "Kernel panic" in lines[-1]
    settings = Settings.from_env(env)
    assert not vm.is_up(settings, "x")
    leftovers = subprocess.run(["pgrep", "-f", str(home)], capture_output=True, text=True).stdout
    assert leftovers == ""


def test_down_saves_them_and_up_resumes_them_with_everything_inside_still_running(
        vmhosts, connect, cleanup, token):
    """`down` leaves no process of ours (QEMU, switch, ssh) and both hosts saved; `up --vm`
    resumes them: a domain still runs, the NFS mount and the iSCSI session are still there,
    and the guests' clocks (stopped while saved) are set right."""
    settings = Settings.from_env(vmhosts.lab_env)
    a, b = connect(vmhosts.uri("a")), connect(vmhosts.uri("b"))
    name = f"t-keep-{token}"
    # Connections do not survive a suspend: clean up through new ones, opened afterwards.
    cleanup(lambda: remove_domain(connect(vmhosts.uri("a")), name))
    start_domain(a, domain_xml(a, name, ""), lambda action: None)
    before = {p.name() for p in b.listAllStoragePools()}
    shared_pool(b, nfs_pool_xml(vmhosts.env, "t-nfs"), lambda action: None)
    shared_pool(b, kernel_iscsi_pool_xml(vmhosts.env, "t-iscsi"), lambda action: None)
    for pool in {p.name() for p in b.listAllStoragePools()} - before:
        cleanup(lambda pool=pool: remove_pool(connect(vmhosts.uri("b")), pool))
    mounts = vmhosts.run("b", "findmnt -n -t nfs,nfs4 -o TARGET").stdout
    sessions = vmhosts.run("b", "iscsiadm -m session").stdout
    assert mounts and vmhosts.env["LAB_ISCSI_TARGET"] in sessions

    home = str(settings.home)
    down = lab_hosts(vmhosts, "down")
    assert down.returncode == 0, down.stderr
    assert subprocess.run(["pgrep", "-f", home], capture_output=True, text=True).stdout == ""
    assert not (settings.home / "vm" / "switch").exists()
    listed = lab_hosts(vmhosts, "list")
    assert [line.split()[3] for line in listed.stdout.splitlines()[1:3]] == ["saved", "saved"]
    time.sleep(3)                      # the guests' clocks stand still meanwhile

    up = lab_hosts(vmhosts, "up", "--vm")
    assert up.returncode == 0, up.stderr
    assert "VM hosts a, b resumed in" in up.stderr and "booting" not in up.stderr, up.stderr
    a = connect(vmhosts.uri("a"))
    assert a.lookupByName(name).isActive()
    assert vmhosts.run("b", "findmnt -n -t nfs,nfs4 -o TARGET").stdout == mounts
    assert vmhosts.env["LAB_ISCSI_TARGET"] in vmhosts.run("b", "iscsiadm -m session").stdout
    for host in ("a", "b"):
        before = time.time()
        there = float(vmhosts.run(host, "date +%s.%N").stdout)
        assert before - 1 < there < time.time() + 1, (host, there - before)
    assert not any(vmstate.saved(vm.host_dir(settings, n)) for n in ("a", "b"))
