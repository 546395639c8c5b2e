"""VM hosts without booting one: the QEMU command line, confinement to this machine, env, kinds."""
from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.labhosts import earlyboot, lifecycle, procs, vm, vmimage, vmstate
from grader.labhosts.config import Settings


def _image(tmp_path: Path) -> vmimage.Image:
    image = vmimage.Image(tmp_path / "img")
    image.dir.mkdir()
    (image.dir / "image.json").write_text(json.dumps({"kernel": "6.1.0-50-amd64"}))
    return image


def _argv(tmp_path, accel="tcg", name="b"):
    settings = Settings.from_env({"LAB_HOME": str(tmp_path / "home"), "LAB_PORT_BASE": "17600"})
    vm.host_dir(settings, name).mkdir(parents=True)
    (vm.host_dir(settings, name) / "uuid").write_text("3f2c1d7e-0000-4000-8000-000000000002\n")
    return settings, vm.qemu_argv(settings, name, _image(tmp_path), accel, ["a", "b"], "a",
                                  "ssh-ed25519 AAAA lab-hosts")


def test_guest_networks_stay_on_this_machine(tmp_path):
    """User networking is restricted (no route out); forwards listen on loopback only; the
    guests' own link is a unix-socket switch, never a multicast or UDP socket."""
    settings, argv = _argv(tmp_path)
    netdevs = [argv[i + 1] for i, a in enumerate(argv) if a == "-netdev"]
    assert len(netdevs) == 2
    user, link = netdevs
    assert user.startswith("user,") and "restrict=on" in user.split(",")
    forwards = [part for part in user.split(",") if part.startswith("hostfwd=")]
    assert forwards == [f"hostfwd=tcp:127.0.0.1:{settings.port('b')}-:16514",   # TLS only
                        f"hostfwd=tcp:127.0.0.1:{settings.port('b') + 1}-:22"]
    assert link.startswith("vde,") and f"sock={settings.home / 'vm' / 'switch'}" in link
    assert "mcast" not in " ".join(argv) and "udp" not in " ".join(argv)


def test_each_guest_gets_its_identity_disks_and_accelerator(tmp_path):
    _, argv = _argv(tmp_path)
    append = argv[argv.index("-append") + 1].split()
    assert "labhost.name=b" in append and "labhost.storage=a" in append
    assert "labhost.hosts=a:10.77.0.2,b:10.77.0.3" in append
    assert "modprobe.blacklist=kvm_amd,kvm_intel,kvm" in append   # TCG: domains use type qemu
    assert argv[argv.index("-uuid") + 1] == "3f2c1d7e-0000-4000-8000-000000000002"
    drives = [argv[i + 1] for i, a in enumerate(argv) if a == "-drive"]
    assert len(drives) == 1 + vm.spare_disk_count()
    devices = [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]
    disks = [d for d in devices if d.startswith("virtio-blk-pci")]
    # The guest names virtio disks in PCI order: root on the lowest slot is /dev/vda, and the
    # spare disks follow as /dev/vdb, vdc, vdd, the LAB_DISKS lab5 erases.
    slots = [int(dict(p.split("=") for p in d.split(",")[1:])["addr"], 16) for d in disks]
    assert [d.split(",")[1] for d in disks] == ["drive=root"] + [
        f"drive=spare{i}" for i in range(1, vm.spare_disk_count() + 1)]
    assert slots == sorted(slots) and len(set(slots)) == len(slots)
    assert "serial=lab-spare-1" in disks[1]
    other = [d for d in devices if not d.startswith("virtio-blk-pci") and "addr=" in d]   # PCI
    assert all(int(d.split("addr=")[1], 16) > max(slots) for d in other)
    assert argv[argv.index("-accel") + 1].startswith("tcg")
    _, kvm_argv = _argv(tmp_path / "k", accel="kvm")
    assert kvm_argv[kvm_argv.index("-accel") + 1] == "kvm"
    assert not any(a.startswith("modprobe.blacklist") for a in kvm_argv[kvm_argv.index("-append") + 1].split())


def test_the_guest_gets_the_server_certificate_but_never_a_key_that_opens_hosts(tmp_path):
    """fw_cfg hands the guest's libvirtd its CA and server certificate; the CA's key and the
    client's key (what opens every host of the LAB_HOME) stay on this machine."""
    settings, argv = _argv(tmp_path)
    blobs = [argv[i + 1] for i, a in enumerate(argv) if a == "-fw_cfg"]
    given = {dict(p.split("=", 1) for p in b.split(","))["name"].rsplit("/", 1)[1] for b in blobs}
    assert given == {"cacert.pem", "servercert.pem", "serverkey.pem"}
    assert all(f"file={settings.pki_dir}/" in b for b in blobs)
    assert "cakey" not in " ".join(argv) and "clientkey" not in " ".join(argv)
    assert "16509" not in " ".join(argv)


def test_link_addresses_are_private_and_distinct():
    addresses = {vm.link_address(n) for n in "abcdefgh"}
    assert len(addresses) == 8
    assert all(ipaddress.ip_address(a).is_private for a in addresses)
    assert len({vm.link_mac(n) for n in "abcdefgh"}) == 8


def test_vm_environment_uris_are_loopback_and_name_the_disks(tmp_path):
    settings = Settings.from_env({"LAB_HOME": str(tmp_path), "LAB_PORT_BASE": "17600"})
    (tmp_path / "vm").mkdir()
    (tmp_path / "vm" / "storage").write_text("a")
    env = vm.environment(settings, ["a", "b"])
    for key in ("LAB_URI_A", "LAB_URI_B", "LIBVIRT_DEFAULT_URI"):
        assert env[key].startswith("qemu+tls://127.0.0.1:"), key
        assert env[key].endswith(f"/system?pkipath={tmp_path}/pki"), key
    assert env["LIBVIRT_DEFAULT_URI"] == env["LAB_URI_A"]
    assert env["LAB_DISKS"] == "/dev/vdb /dev/vdc /dev/vdd"
    assert (env["LAB_SHARE_FORMAT"], env["LAB_SHARE_PATH"]) == ("nfs", "/srv/share")
    assert env["LAB_SHARE_HOST"] == env["LAB_ISCSI_HOST"] == "10.77.0.2"  # for guests' pools only
    assert env["LAB_MIGRATE_FLAGS"] == ""
    assert "127.0.0.1" in env["LAB_SSH_A"] and "-p 17611" in env["LAB_SSH_A"]


def test_vm_hosts_get_the_spare_disks_the_labs_needs_ask_for(tmp_path, monkeypatch):
    """LAB_DISKS comes from the labs' [needs]: a course whose lab erases four disks gets four."""
    import shutil

    from toyhelp import LABS_DIR

    labs = tmp_path / "labs"
    shutil.copytree(LABS_DIR / "toy", labs / "lab6")
    toml = labs / "lab6" / "lab.toml"
    toml.write_text(toml.read_text().replace('id = "toy"', 'id = "lab6"').replace(
        '[needs]\n', '[needs]\ndisks = 4\nkernel = true\n'))
    monkeypatch.setenv("LAB_LABS_DIR", str(labs))
    settings = Settings.from_env({"LAB_HOME": str(tmp_path / "home"), "LAB_PORT_BASE": "17600"})
    (tmp_path / "home" / "vm").mkdir(parents=True)
    (tmp_path / "home" / "vm" / "storage").write_text("a")
    assert vm.spare_disk_count() == 4
    assert vm.environment(settings, ["a"])["LAB_DISKS"] == "/dev/vdb /dev/vdc /dev/vdd /dev/vde"
    monkeypatch.delenv("LAB_LABS_DIR")
    assert vm.spare_disk_count() == 3            # the course's own labs: lab5's three


def test_light_hosts_print_their_migration_flags(tmp_path, monkeypatch):
    settings = Settings.from_env({"LAB_HOME": str(tmp_path)})
    monkeypatch.setattr(lifecycle, "_vm_up", lambda s: [])
    monkeypatch.setattr(lifecycle, "_light_up", lambda s: ["a"])
    env = lifecycle.environment(settings)
    assert env["LAB_MIGRATE_FLAGS"] == "--migrateuri tcp://127.0.0.1 --listen-address 127.0.0.1"


@pytest.mark.parametrize("want_vm, running, message", [
    (True, "_light_up", r"light lab hosts \(a\) are up"),
    (False, "_vm_up", r"VM lab hosts \(a\) are up"),
])
def test_one_kind_of_host_per_lab_home(tmp_path, monkeypatch, want_vm, running, message):
    settings = Settings.from_env({"LAB_HOME": str(tmp_path)})
    monkeypatch.setattr(lifecycle, "_vm_up", lambda s: [])
    monkeypatch.setattr(lifecycle, "_light_up", lambda s: [])
    monkeypatch.setattr(lifecycle, running, lambda s: ["a"])
    with pytest.raises(UsageError, match=message) as err:
        lifecycle._one_kind(settings, want_vm)
    assert "lab hosts down" in str(err.value) and "\n" not in str(err.value)


def test_the_image_is_named_by_its_recipe(monkeypatch):
    first = vmimage.recipe_hash()
    monkeypatch.setattr(vmimage, "PACKAGES", vmimage.PACKAGES + ("htop",))
    assert vmimage.recipe_hash() != first
    assert {"zfs-dkms", "linux-image-amd64", "lvm2", "nfs-kernel-server", "targetcli-fb",
            "open-iscsi", "parted", "libvirt-daemon-system"} <= set(vmimage.PACKAGES)


def test_a_build_step_streams_its_output_to_the_log_and_to_progress(tmp_path):
    log, seen = tmp_path / "build.log", []
    vmimage._run(["printf", "I: downloading packages with apt...\nI: extracting archives...\n"],
                 "testing", log, seen.append)
    assert seen == ["I: downloading packages with apt...\n", "I: extracting archives...\n"]
    assert "I: extracting archives..." in log.read_text()
    with pytest.raises(Exception, match=r"failed while testing \(boom\): see .*build.log"):
        vmimage._run(["sh", "-c", "echo boom; exit 3"], "testing", log)


@pytest.mark.skipif(not shutil.which("vde_switch"), reason="vde_switch (vde2) not installed")
def test_the_switch_is_ready_when_it_is_reported_started_and_down_leaves_nothing(tmp_path):
    """`vde_switch --daemon` forks before it opens its socket; QEMU started right after must find
    it (CI once lost every VM-host test to that race). A stale pid file is not a running switch."""
    settings = Settings.from_env({"LAB_HOME": str(tmp_path / "home")})
    vm.vm_dir(settings).mkdir(parents=True)
    (vm.vm_dir(settings) / "switch.pid").write_text(f"{os.getpid()}\n")   # alive, not a switch
    try:
        assert vm._ensure_switch(settings) is True
        assert (vm.vm_dir(settings) / "switch" / "ctl").is_socket()
        pid = int((vm.vm_dir(settings) / "switch.pid").read_text())
        assert pid != os.getpid() and "vde_switch" in " ".join(procs.cmdline(pid))
        assert vm._ensure_switch(settings) is False
    finally:
        vm._stop_switch(settings)
    assert not (vm.vm_dir(settings) / "switch").exists()
    assert not procs.alive(pid)


@pytest.mark.skipif(not shutil.which("qemu-img"), reason="qemu-img not installed")
def test_a_new_image_gives_a_fresh_root_and_blank_spare_disks(tmp_path):
    """The spare disks go with the root: a fresh root remembers no lab5 pool, so labels left on
    the old spare disks would make `lab start lab5` refuse them (seen after an image update)."""
    settings = Settings.from_env({"LAB_HOME": str(tmp_path / "home")})
    old, new = vmimage.Image(tmp_path / "old"), vmimage.Image(tmp_path / "new")
    for image in (old, new):
        image.dir.mkdir()
        with open(image.root, "wb") as f:
            f.truncate(1 << 20)
    hdir = vm._prepare(settings, "a", old)
    spares = [hdir / f"spare{i}.qcow2" for i in range(1, vm.spare_disk_count() + 1)]
    for disk in spares:
        disk.write_bytes(b"a lab5 label")        # what the old root's pools wrote
    vm._prepare(settings, "a", old)
    assert all(d.read_bytes() == b"a lab5 label" for d in spares)    # same image: kept
    (old.dir / "image.json").write_text('{"built": "later"}')        # same recipe, rebuilt
    (hdir / "root.qcow2").write_bytes(b"on the first build")
    vm._prepare(settings, "a", old)
    assert (hdir / "root.qcow2").read_bytes() != b"on the first build"
    vmstate.state_file(hdir).write_bytes(b"QEVM")                     # saved by `down`
    vmstate.key_file(hdir).write_text("{}")
    vm._prepare(settings, "a", new)
    assert not vmstate.saved(hdir)             # never resumed on the new image's disks
    assert (hdir / "image").read_text().splitlines()[0] == str(new.root)
    for disk in spares:
        info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(disk)],
                                         capture_output=True, text=True, check=True).stdout)
        assert info["format"] == "qcow2" and info["virtual-size"] == 1 << 30


@pytest.mark.parametrize("vm_state, light_up, expected", [
    ("saved", True, [("a", "light", "up")]),       # VM hosts suspended, light ones up
    ("down", True, [("a", "light", "up")]),
    ("saved", False, [("a", "vm", "saved")]),
    ("up", False, [("a", "vm", "up")]),
])
def test_lab_hosts_list_shows_one_row_per_host(tmp_path, monkeypatch, vm_state, light_up, expected):
    """After `lab hosts down` of VM hosts and `lab hosts up` of light ones, one row per name
    (the kind that is up), not a `down` VM row beside each light one."""
    from grader.labhosts import daemons
    from grader.labhosts.daemons import Host

    settings = Settings.from_env({"LAB_HOME": str(tmp_path)})
    monkeypatch.setattr(vm, "known", lambda s: ["a"])
    monkeypatch.setattr(vm, "status", lambda s, names=None: [
        Host("a", s.uri("a"), s.port("a"), vm_state, None, kind="vm")])
    monkeypatch.setattr(daemons, "known", lambda s: ["a"])
    monkeypatch.setattr(daemons, "is_up", lambda s, n: light_up)
    monkeypatch.setattr(lifecycle.connection, "open_bounded", lambda *a, **k: (_ for _ in ()).throw(OSError()))
    rows = [(h.name, h.kind, h.state if h.state != "not answering" else "up")
            for h in lifecycle.status(settings)]
    assert rows == expected


def test_down_purge_always_leads_to_a_cold_start(tmp_path):
    settings = Settings.from_env({"LAB_HOME": str(tmp_path / "home")})
    hdir = vm.host_dir(settings, "a")
    hdir.mkdir(parents=True)
    (hdir / "uuid").write_text("u\n")
    vmstate.state_file(hdir).write_bytes(b"QEVM")
    vmstate.key_file(hdir).write_text("{}")
    assert [h.state for h in vm.status(settings)] == ["saved"]
    vm.down(settings, ["a"], purge=True)
    assert not hdir.exists() and vm.status(settings) == []


def test_a_saved_state_resumes_only_with_the_same_command_line_ca_and_qemu(tmp_path):
    """A changed image or recipe (another command line), another CA or QEMU: a cold boot."""
    from grader.labhosts import pki, vmstate

    settings, argv = _argv(tmp_path)
    if not shutil.which("certtool"):
        pytest.skip("certtool (gnutls-bin) not installed")
    pki.ensure(settings)
    hdir = vm.host_dir(settings, "b")
    key = vmstate.key(settings, argv, "QEMU 7.2")
    assert vmstate.usable(hdir, key) == "no saved state"
    vmstate.state_file(hdir).write_bytes(b"QEVM")
    vmstate.key_file(hdir).write_text(json.dumps({"key": key}))
    assert vmstate.usable(hdir, key) is None
    other_image = [a.replace(str(tmp_path / "img"), str(tmp_path / "img2")) for a in argv]
    assert vmstate.usable(hdir, vmstate.key(settings, other_image, "QEMU 7.2")) is not None
    assert vmstate.usable(hdir, vmstate.key(settings, argv, "QEMU 8.0")) is not None
    assert vmstate.usable(hdir, vmstate.key(settings, argv, "QEMU 7.2", "rebuilt")) is not None
    shutil.rmtree(settings.pki_dir)
    pki.ensure(settings)                                   # a new CA
    assert vmstate.usable(hdir, vmstate.key(settings, argv, "QEMU 7.2")) is not None
    assert vmstate.resume_args(hdir)[:2] == ["-incoming", f"exec:cat {hdir / 'state'}"]
    vmstate.discard(hdir)
    assert not vmstate.saved(hdir)


MODULES_DEP = """kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/crypto/crc32c_generic.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/lib/crc16.ko:
kernel/fs/mbcache.ko:
kernel/fs/jbd2/jbd2.ko:
kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko
"""


def _read_newc(data: bytes) -> dict[str, tuple[int, bytes]]:
    """The files of a newc cpio archive (what the kernel unpacks), up to its trailer."""
    files, at = {}, 0
    while True:
        assert data[at:at + 6] == b"070701", f"no newc header at {at}"
        fields = [int(data[at + 6 + 8 * i:at + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = data[at + 110:at + 110 + namesize - 1].decode()
        at += 110 + namesize
        at += -at % 4
        if name == "TRAILER!!!":
            return files
        files[name] = (mode, data[at:at + size])
        at += size + (-(at + size) % 4)


def test_the_early_boot_loads_each_root_module_after_what_it_needs():
    order = earlyboot.module_order(MODULES_DEP, earlyboot.ROOT_MODULES, "/usr/lib/modules/6.1")
    names = [p.rsplit("/", 1)[1] for p in order]
    assert len(names) == len(set(names)) == 11            # every needed module once, xfs not
    for module, needs in (("virtio_blk.ko", ["virtio.ko", "virtio_ring.ko"]),
                          ("virtio_pci.ko", ["virtio.ko", "virtio_pci_modern_dev.ko"]),
                          ("ext4.ko", ["crc16.ko", "mbcache.ko", "jbd2.ko"])):
        assert all(names.index(n) < names.index(module) for n in needs), (module, names)
    assert all(p.startswith("/usr/lib/modules/6.1/kernel/") for p in order)
    with pytest.raises(LookupError, match="nvme"):
        earlyboot.module_order(MODULES_DEP, ("nvme",), "/m")


def test_the_early_boot_rides_in_an_archive_appended_to_debians_initrd(tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr/lib/modules/6.1.0-50-amd64").mkdir(parents=True)
    (rootfs / "usr/lib/modules/6.1.0-50-amd64/modules.dep").write_text(MODULES_DEP)
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(b"\x28\xb5\x2f\xfd compressed")      # 15 bytes: not a multiple of 4
    earlyboot.append_init(initrd, rootfs, "6.1.0-50-amd64")
    data = initrd.read_bytes()
    assert data.startswith(b"\x28\xb5\x2f\xfd compressed\0")   # Debian's archive unchanged
    files = _read_newc(data[16:])                         # the next one on a 4-byte boundary
    mode, script = files["labhost-init"]
    assert mode == 0o100755 and script.startswith(b"#!/bin/sh\n")
    text = script.decode()
    assert "insmod" in text and "/usr/lib/modules/6.1.0-50-amd64/kernel/fs/ext4/ext4.ko" in text
    assert "exec run-init /root /sbin/init" in text and text.rstrip().endswith('exec /init "$@"')
    _, argv = _argv(tmp_path)
    assert f"rdinit={earlyboot.PATH}" in argv[argv.index("-append") + 1].split()
