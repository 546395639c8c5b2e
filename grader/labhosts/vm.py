"""VM hosts: lab hosts that are virtual machines with their own kernel (`lab hosts up --vm`).

Light hosts share this machine's kernel, which lacks device-mapper, ZFS, an NFS server and an
iSCSI initiator. A VM host is a QEMU virtual machine booted from the cached image (`vmimage`),
on its own qcow2 overlay, with three spare 1 GiB disks (lab5) and two network links, both
confined to this machine:

* QEMU user networking with `restrict=on`: nothing leaves the guest except through the host
  forwards on 127.0.0.1 (libvirtd's TLS port and ssh), so the grader reaches a VM host at
  qemu+tls://127.0.0.1:PORT/system?pkipath=... exactly as it reaches a light host (`pki`: the
  guest's libvirtd gets this LAB_HOME's server certificate through QEMU's fw_cfg);
* a `vde_switch` of ours (a unix socket under LAB_HOME): the guests' own Ethernet, with
  addresses 10.77.0.N that exist only there. Migration and the shared storage use it.

The first VM host started in a LAB_HOME is the storage host: it exports /srv/share over NFS
(nfs-kernel-server) and serves a kernel iSCSI target (LIO) on the link. A separate storage VM
would cost another TCG guest on a 2-core machine for nothing the course needs.

Each guest learns who it is from its kernel command line (guest/labhost-setup).
"""
from __future__ import annotations

import base64
import os
import json
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader.errors import EnvironmentProblem
from grader.labhosts import earlyboot, kvm, pki, procs, vmimage, vmstate
from grader.labhosts.config import Settings, slot
from grader.labhosts.daemons import Host
from grader.labhosts.qmp import QMPError
from grader.reading.limits import Limits

MEMORY_MIB = 1536
#: vCPUs per guest. Under TCG each vCPU is a host thread: two guests of one vCPU each keep
#: this 2-core machine busy without starving each other (with two each, both boot slower).
CPUS = {"kvm": 2, "tcg": 1}
SPARE_SIZE = "1G"
LINK_NET = "10.77.0"
SHARE_PATH = "/srv/share"
ISCSI_TARGET = "iqn.2026-12.lab.kvm-storage:shared"
USER_MAC = "52:54:00:12:34:56"   # matched by the image's 10-user.network
#: PCI slots of the guest's devices; the spare disks follow the root disk's slot.
PCI_SLOT = {"root": 0x04, "user": 0x10, "link": 0x11, "rng": 0x12, "serial": 0x13}
#: The virtio-serial port a resumed guest reads this machine's time from (guest/labhost-clock).
CLOCK_PORT = "org.kvm-storage-lab.clock"
#: Spare disks take the slots after the root disk's, up to the first NIC's.
MAX_SPARE_DISKS = PCI_SLOT["user"] - PCI_SLOT["root"] - 1


def spare_disk_count(env=None) -> int:
    """As many spare disks as the labs' [needs] ask for at most (lab5 erases three)."""
    from grader.core import labdef

    wanted = max((lab.needs.disks for lab in labdef.for_environment(env or os.environ).all()), default=0)
    return min(wanted, MAX_SPARE_DISKS)


def disk_names(count: int) -> tuple[str, ...]:
    """The spare disks as the guest names them (LAB_DISKS): after the root disk /dev/vda."""
    return tuple(f"/dev/vd{chr(ord('b') + i)}" for i in range(count))
#: Two TCG guests booting side by side on 2 cores took 45-50 s here; leave room for a busy CI.
BOOT_TIMEOUT = {"kvm": 120.0, "tcg": 400.0}
#: How long a Linux kernel may take to reach its first panic under KVM before we call KVM broken.
KVM_PROBE_TIMEOUT = 30.0
SWITCH_TIMEOUT = 10.0
SYNC_TIMEOUT = 20.0
#: libvirtd's TLS port in the guest (libvirtd-tls.socket); its TCP port 16509 is not enabled.
GUEST_TLS_PORT = 16514
ANSWER_LIMITS = Limits(timeout=20.0, connect_timeout=10.0)


# ---- where things are ---------------------------------------------------------------------------

def vm_dir(settings: Settings) -> Path:
    return settings.home / "vm"


def host_dir(settings: Settings, name: str) -> Path:
    return vm_dir(settings) / "hosts" / name


def images_home(settings: Settings) -> Path:
    """Where images are cached (under its images/): LAB_IMAGES, else the default LAB_HOME."""
    return settings.images


def ssh_port(settings: Settings, name: str) -> int:
    return settings.port(name) + 1


def link_address(name: str) -> str:
    return f"{LINK_NET}.{slot(name) + 1}"


def link_mac(name: str) -> str:
    return f"52:54:00:77:00:{slot(name) + 1:02x}"


def key_file(settings: Settings) -> Path:
    return vm_dir(settings) / "id_ed25519"


def ssh_command(settings: Settings, name: str) -> list[str]:
    """ssh into VM host `name` as root, through its forward on 127.0.0.1."""
    return ["ssh", "-i", str(key_file(settings)), "-p", str(ssh_port(settings, name)),
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
            "-o", "StrictHostKeyChecking=accept-new",
            "-o", f"UserKnownHostsFile={host_dir(settings, name) / 'known_hosts'}",
            "-o", "ConnectTimeout=10", "root@127.0.0.1"]


def known(settings: Settings) -> list[str]:
    hosts = vm_dir(settings) / "hosts"
    if not hosts.is_dir():
        return []
    return sorted(p.name for p in hosts.iterdir() if (p / "uuid").exists())


def qemu_pid(settings: Settings, name: str) -> int | None:
    return procs.read_pid(host_dir(settings, name) / "qemu.pid")


def is_up(settings: Settings, name: str) -> bool:
    """QEMU of this VM host runs (the pid file's process is ours: its name says so)."""
    pid = qemu_pid(settings, name)
    return procs.runs(pid, f"labhost-{name}")


def storage_host(settings: Settings) -> str | None:
    try:
        return (vm_dir(settings) / "storage").read_text().strip() or None
    except FileNotFoundError:
        return None


# ---- the accelerator, by trying -----------------------------------------------------------------

def _qemu_version() -> str:
    out = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True)
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def accelerator(settings: Settings, image: vmimage.Image, say=print) -> str:
    """"kvm" when a Linux kernel boots under KVM here, else "tcg"; tried once per machine (and
    QEMU version and kernel), then cached beside the images.

    The probe boots the image's kernel without a root file system: under a working KVM it
    reaches its "VFS: Unable to mount root fs" panic in about a second and QEMU exits
    (-no-reboot). On this kind of machine it hangs before printing anything.
    """
    if settings.accel == "tcg" or kvm.device_problem() is not None:
        return "tcg"
    cache = images_home(settings) / "images" / "accel.json"   # a fact of this machine
    key = {"qemu": _qemu_version(), "kernel": image.info["kernel"]}
    try:
        found = json.loads(cache.read_text())
        if found.get("key") == key:
            return found["accel"]
    except (FileNotFoundError, ValueError):
        pass
    say(f"trying whether a Linux guest boots under KVM here (at most {KVM_PROBE_TIMEOUT:.0f} s)")
    argv = ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-m", "256", "-nodefaults",
            "-display", "none", "-no-reboot", "-serial", "stdio", "-kernel", str(image.kernel),
            "-append", "console=ttyS0 panic=-1 root=/dev/null"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=KVM_PROBE_TIMEOUT)
        accel = "kvm" if "Kernel panic" in out.stdout else "tcg"
    except subprocess.TimeoutExpired:
        accel = "tcg"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, "accel": accel}))
    return accel


# ---- the link -----------------------------------------------------------------------------------

def _switch_dir(settings: Settings) -> Path:
    return vm_dir(settings) / "switch"


def _switch_pid(settings: Settings) -> int | None:
    return procs.read_pid(vm_dir(settings) / "switch.pid")


def _switch_runs(settings: Settings) -> bool:
    return procs.runs(_switch_pid(settings), "vde_switch") and (_switch_dir(settings) / "ctl").exists()


def _ensure_switch(settings: Settings) -> bool:
    """Start the guests' switch unless it runs; True when this call started it.

    `vde_switch --daemon` returns once it has forked, before the child writes its pid file and
    opens its socket: wait for both, or QEMU started right after finds no switch."""
    if _switch_runs(settings):
        return False
    _stop_switch(settings)
    log = vm_dir(settings) / "switch.log"
    with open(log, "ab") as out:
        subprocess.run(["vde_switch", "--sock", str(_switch_dir(settings)), "--daemon",
                        "--pidfile", str(vm_dir(settings) / "switch.pid"), "--mode", "0700"],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=True)
    deadline = time.monotonic() + SWITCH_TIMEOUT
    while not _switch_runs(settings):
        if time.monotonic() > deadline:
            raise EnvironmentProblem(
                f"the VM hosts' switch (vde_switch) did not open {_switch_dir(settings)} within "
                f"{SWITCH_TIMEOUT:.0f} s: see {log}")
        time.sleep(0.05)
    return True


def _stop_switch(settings: Settings) -> None:
    pid = _switch_pid(settings)
    if procs.runs(pid, "vde_switch"):
        procs.terminate([pid])
    (vm_dir(settings) / "switch.pid").unlink(missing_ok=True)
    shutil.rmtree(_switch_dir(settings), ignore_errors=True)


# ---- one host -----------------------------------------------------------------------------------

def _spare_disks(hdir: Path) -> list[Path]:
    """The spare disks' files, in the order the guest names them (LAB_DISKS)."""
    return [hdir / f"spare{i}.qcow2" for i in range(1, spare_disk_count() + 1)]


def _prepare(settings: Settings, name: str, image: vmimage.Image) -> Path:
    hdir = host_dir(settings, name)
    hdir.mkdir(parents=True, exist_ok=True)
    if not (hdir / "uuid").exists():
        (hdir / "uuid").write_text(str(uuid.uuid4()) + "\n")
    overlay = hdir / "root.qcow2"
    recorded = hdir / "image"
    # The image's path names its recipe, its build time the very file: an image rebuilt for the
    # same recipe (its cache was pruned) is another backing file, under which an old overlay
    # would be garbage.
    identity = f"{image.root}\n{_built(image)}"
    if not overlay.exists() or not recorded.exists() or recorded.read_text() != identity:
        # A new image (its recipe changed) means a fresh root, and blank spare disks with it:
        # a fresh root remembers no pool, so the labels lab5 left on them would be unexplained
        # (and lab5 rightly refuses to erase a disk it cannot explain).
        overlay.unlink(missing_ok=True)
        vmstate.discard(hdir)     # saved with the old disks: never resumed on the new ones
        for disk in _spare_disks(hdir):
            disk.unlink(missing_ok=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
                        "-b", str(image.root), str(overlay)], check=True)
        recorded.write_text(identity)
    for fifo in (hdir / "clock.in", hdir / "clock.out"):
        if not fifo.exists():
            os.mkfifo(fifo, 0o600)
    for disk in _spare_disks(hdir):
        if not disk.exists():
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), SPARE_SIZE],
                           check=True)
    return hdir


def _built(image: vmimage.Image) -> str:
    try:
        return str(image.info.get("built", ""))
    except (OSError, ValueError):
        return ""


def _ensure_key(settings: Settings) -> str:
    key = key_file(settings)
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lab-hosts",
                        "-f", str(key)], check=True)
    return key.with_suffix(".pub").read_text().strip()


def qemu_argv(settings: Settings, name: str, image: vmimage.Image, accel: str,
              peers: list[str], storage: str, pubkey: str) -> list[str]:
    """The QEMU command line of VM host `name` (pure: tests read it)."""
    hdir = host_dir(settings, name)
    hosts = ",".join(f"{p}:{link_address(p)}" for p in peers)
    # mitigations=off: the guests are lab hosts on one machine, and retpolines and barriers cost
    # more under emulation than they protect there.
    cmdline = ["root=/dev/vda", "rw", f"rdinit={earlyboot.PATH}", "console=ttyS0", "quiet",
               "systemd.show_status=error", "mitigations=off",
               f"labhost.name={name}", f"labhost.mac={link_mac(name)}",
               f"labhost.addr={link_address(name)}", f"labhost.hosts={hosts}",
               f"labhost.storage={storage}",
               "labhost.key=" + base64.b64encode(pubkey.encode()).decode()]
    if accel == "tcg":
        # No (emulated) KVM inside a TCG guest: libvirt there offers type `qemu` only, which is
        # what works for the domains (see docs/vmhosts.md).
        cmdline.append("modprobe.blacklist=kvm_amd,kvm_intel,kvm")
    accel_args = (["-accel", "kvm", "-cpu", "host"] if accel == "kvm"
                  else ["-accel", "tcg,thread=multi", "-cpu", "max"])
    fwd = (f"hostfwd=tcp:127.0.0.1:{settings.port(name)}-:{GUEST_TLS_PORT},"
           f"hostfwd=tcp:127.0.0.1:{ssh_port(settings, name)}-:22")
    argv = ["qemu-system-x86_64", "-name", f"labhost-{name},process=labhost-{name}",
            *accel_args, "-m", str(MEMORY_MIB), "-smp", str(CPUS[accel]),
            "-uuid", (hdir / "uuid").read_text().strip(),
            "-nodefaults", "-display", "none",
            # appended to: a resumed host's QEMU must not truncate its boot's console
            "-chardev", f"file,id=console,path={hdir / 'console.log'},append=on",
            "-serial", "chardev:console",
            "-kernel", str(image.kernel), "-initrd", str(image.initrd),
            "-append", " ".join(cmdline),
            "-drive", f"file={hdir / 'root.qcow2'},if=none,id=root,format=qcow2,discard=unmap",
            # Fixed PCI slots, in this order: the guest names virtio disks in the order it finds
            # them, so the root is /dev/vda and the spare disks are /dev/vdb, vdc, vdd (LAB_DISKS).
            "-device", f"virtio-blk-pci,drive=root,addr={PCI_SLOT['root']:#x}"]
    for i, disk in enumerate(_spare_disks(hdir), start=1):
        argv += ["-drive", f"file={disk},if=none,id=spare{i},format=qcow2",
                 "-device", f"virtio-blk-pci,drive=spare{i},serial=lab-spare-{i},"
                            f"addr={PCI_SLOT['root'] + i:#x}"]
    argv += ["-netdev", f"user,id=user,restrict=on,{fwd}",
             "-device", f"virtio-net-pci,netdev=user,mac={USER_MAC},addr={PCI_SLOT['user']:#x}",
             "-netdev", f"vde,id=link,sock={_switch_dir(settings)}",
             "-device", f"virtio-net-pci,netdev=link,mac={link_mac(name)},addr={PCI_SLOT['link']:#x}",
             "-device", f"virtio-rng-pci,addr={PCI_SLOT['rng']:#x}",
             # the clock port: a pipe (FIFOs clock.in/.out), always open, so the guest's
             # reader blocks until `up` writes the time after a resume
             "-device", f"virtio-serial-pci,addr={PCI_SLOT['serial']:#x}",
             "-chardev", f"pipe,id=clock,path={hdir / 'clock'}",
             "-device", f"virtserialport,chardev=clock,name={CLOCK_PORT}",
             *pki.fw_cfg_args(settings),
             "-qmp", f"unix:{hdir / 'qmp.sock'},server=on,wait=off",
             "-pidfile", str(hdir / "qemu.pid"), "-daemonize"]
    return argv


def _launch(name: str, argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise EnvironmentProblem(f"QEMU of VM host {name} did not start: {why}")


def _boot(settings: Settings, name: str, argv: list[str], accel: str, kernel: str) -> None:
    """A cold boot: a fresh console, a new ssh host key (known_hosts forgotten)."""
    hdir = host_dir(settings, name)
    (hdir / "console.log").write_text("")
    (hdir / "known_hosts").unlink(missing_ok=True)
    (hdir / "accel").write_text(accel)
    (hdir / "kernel").write_text(kernel)
    vmstate.discard(hdir)
    _launch(name, argv)


def _answers(uri: str) -> bool:
    from grader.reading import connection

    try:
        conn = connection.open_bounded(uri, ANSWER_LIMITS, write=True)
        try:
            conn.getCapabilities()
        finally:
            connection.close(conn)
        return True
    except Exception:
        return False


def run(settings: Settings, name: str, command: str, timeout: float = 60.0):
    """Run a shell command on VM host `name` as root (through ssh on 127.0.0.1)."""
    return subprocess.run(ssh_command(settings, name) + [command], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _console_text(settings: Settings, name: str) -> str:
    try:
        return (host_dir(settings, name) / "console.log").read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _console_tail(settings: Settings, name: str, lines: int = 3) -> str:
    text = [l.strip() for l in _console_text(settings, name).splitlines() if l.strip()]
    from grader.core.text import one_line

    return one_line(" | ".join(text[-lines:]) or "the console printed nothing", 400)


#: Shell tests run in a guest that say it is ready for the labs.
STORAGE_READY = "systemctl is-active labhost-storage.service nfs-server.service >/dev/null"
ZPOOLS_IMPORTED = "! systemctl list-jobs --no-legend | grep -q labhost-zfs"


#: What guest/labhost-ready.service prints on the console when a boot is done.
READY_LINE = "labhost-ready"
#: Without that line, libvirt is still asked this often (a console that says nothing must not
#: hold a host that answers); not sooner: an attempt while the guest boots waits for its
#: whole connect timeout, and delays the one that would succeed.
ASK_ANYWAY = 90.0


def _wait_ready(settings: Settings, name: str, accel: str, storage: str) -> None:
    """Until the guest says on its console that the boot is done, only the console is read
    (a cold boot truncated it); then libvirt must answer and the services be up."""
    deadline = time.monotonic() + BOOT_TIMEOUT[accel]
    uri = settings.uri(name)
    asked = time.monotonic()
    while time.monotonic() < deadline:
        console = _console_text(settings, name)
        if "(initramfs)" in console or "Kernel panic" in console:
            raise EnvironmentProblem(
                f"VM host {name} did not boot; its console's last lines: {_console_tail(settings, name)}")
        if not is_up(settings, name):
            raise EnvironmentProblem(
                f"VM host {name} stopped while booting; its console's last lines: "
                f"{_console_tail(settings, name)}")
        if READY_LINE not in console and time.monotonic() - asked < ASK_ANYWAY:
            time.sleep(0.25)
            continue
        asked = time.monotonic()
        if procs.port_open(settings.port(name)) and _answers(uri):
            # The zpools of the spare disks are imported just after the boot (labhost-zfs):
            # until then `lab start lab5` would find ZFS's labels and no pool that explains them.
            ready_when = (STORAGE_READY if name == storage else "true") + " && " + ZPOOLS_IMPORTED
            try:
                ready = run(settings, name, ready_when, timeout=30)
            except subprocess.TimeoutExpired:
                continue    # a guest busy booting on a busy machine: ask again
            if ready.returncode == 0:
                return
        time.sleep(1.0)
    raise EnvironmentProblem(
        f"VM host {name} did not answer within {BOOT_TIMEOUT[accel]:.0f} s ({accel}); its "
        f"console's last lines: {_console_tail(settings, name)}")


def _sync(settings: Settings, name: str) -> None:
    try:
        run(settings, name, "sync", timeout=SYNC_TIMEOUT)
    except (subprocess.SubprocessError, OSError):
        pass    # a guest that does not answer is saved or powered off all the same


def stop(settings: Settings, name: str, sync: bool = True) -> None:
    """Power the VM off and clear its run state.

    No shutdown (minutes of services stopping under emulation), but its disks are synced first:
    the root overlay keeps the host's libvirt state from one `up` to the next, and a file the
    guest wrote just before a power-off would otherwise come back as zeros."""
    pid = qemu_pid(settings, name)
    if is_up(settings, name) and sync:
        _sync(settings, name)
    if is_up(settings, name):
        procs.terminate([pid])
    (host_dir(settings, name) / "qemu.pid").unlink(missing_ok=True)


def _recorded_build(settings: Settings, name: str) -> str:
    """The build of the image this host's overlay was made on (see _prepare)."""
    try:
        return (host_dir(settings, name) / "image").read_text().split("\n", 1)[1]
    except (OSError, IndexError):
        return ""


def _running_argv(settings: Settings, name: str) -> list[str]:
    """The command line QEMU of this host runs with, without what resuming added."""
    argv = procs.cmdline(qemu_pid(settings, name))
    if "-incoming" in argv:
        i = argv.index("-incoming")
        argv = argv[:i] + argv[i + 2:]
    return [a for a in argv if a != "-S"]


# ---- the whole set ------------------------------------------------------------------------------

def up(settings: Settings, names: list[str], say=print) -> list[Host]:
    """Start the named VM hosts: resume those saved by `down` (`vmstate`), boot the others (in
    parallel), and wait until each libvirtd answers."""
    image = vmimage.ensure(images_home(settings), say)
    accel = accelerator(settings, image, say)
    to_start = [n for n in names if not is_up(settings, n)]
    running = [n for n in known(settings) if is_up(settings, n)]
    vm_dir(settings).mkdir(parents=True, exist_ok=True)
    vm_dir(settings).chmod(0o700)    # the ssh key, the switch, the guests' disks and states
    pki.ensure(settings)
    if not running and storage_host(settings) not in names:
        (vm_dir(settings) / "storage").write_text(names[0])
    storage = storage_host(settings) or names[0]
    # Every host this LAB_HOME knows, up or not: the same peers from one `up` to the next, so
    # a saved host's command line (its state's key) does not change with which are started.
    peers = sorted(set(known(settings)) | set(names), key=slot)
    pubkey = _ensure_key(settings)
    version = _qemu_version()
    undo = []
    try:
        if _ensure_switch(settings):
            undo.append(lambda: _stop_switch(settings))
        argvs, resume = {}, []
        for name in to_start:
            hdir = _prepare(settings, name, image)
            argvs[name] = qemu_argv(settings, name, image, accel, peers, storage, pubkey)
            why = vmstate.usable(hdir, vmstate.key(settings, argvs[name], version, _built(image)))
            if why is None:
                resume.append(name)
            elif vmstate.saved(hdir):
                say(f"VM host {name}: {why}; booting it")
        if resume and storage in to_start and storage not in resume:
            say(f"the storage host {storage} boots afresh: {', '.join(resume)} boot too, so that "
                "their NFS mounts and iSCSI sessions match its services")
            resume = []
        started = time.monotonic()
        resume = _resume(settings, resume, argvs, storage, undo, say)
        booting = [n for n in to_start if n not in resume]
        if booting:
            say(f"booting VM host{'s' if len(booting) > 1 else ''} {', '.join(booting)} "
                f"under {accel.upper()} (at most {BOOT_TIMEOUT[accel]:.0f} s)")
        for name in booting:
            undo.append(lambda name=name: stop(settings, name, sync=False))   # never came up
            _boot(settings, name, argvs[name], accel, image.info["kernel"])
        with ThreadPoolExecutor(max_workers=max(1, len(to_start))) as pool:
            waits = [pool.submit(_wait_ready, settings, n, accel, storage) for n in booting]
            waits += [pool.submit(_after_resume, settings, n, accel) for n in resume]
            for future in waits:
                future.result()
        if resume:
            say(f"VM host{'s' if len(resume) > 1 else ''} {', '.join(resume)} resumed"
                + (f", {', '.join(booting)} booted" if booting else "")
                + f" in {time.monotonic() - started:.0f} s")
        elif booting:
            say(f"VM hosts up in {time.monotonic() - started:.0f} s")
    except BaseException:
        for action in reversed(undo):
            try:
                action()
            except Exception:
                pass
        raise
    return status(settings, names)


def _resume(settings: Settings, names: list[str], argvs: dict, storage: str, undo: list,
            say) -> list[str]:
    """Load the saved states (paused), then continue them all at once; the hosts resumed.

    A state that does not load is one line and a cold boot; if the storage host's fails, its
    clients boot afresh too."""
    failed = {}
    for name in names:
        undo.append(lambda name=name: stop(settings, name, sync=False))
        hdir = host_dir(settings, name)
        try:
            _launch(name, argvs[name] + vmstate.resume_args(hdir))
        except EnvironmentProblem as err:
            failed[name] = str(err)
    for name in [n for n in names if n not in failed]:
        try:
            vmstate.wait_loaded(host_dir(settings, name), lambda name=name: is_up(settings, name))
        except QMPError as err:
            failed[name] = str(err)
    if storage in failed:
        failed.update({n: f"the storage host {storage} could not resume"
                       for n in names if n not in failed})
    for name, why in failed.items():
        stop(settings, name, sync=False)
        vmstate.discard(host_dir(settings, name))
        say(f"VM host {name}: could not resume its saved state ({why}); booting it instead")
    resumed = [n for n in names if n not in failed]
    for name in resumed:           # together: the storage host and its clients go on at once
        vmstate.cont(host_dir(settings, name))
        vmstate.discard(host_dir(settings, name))    # the disks move on from here
    for name in resumed:           # their clocks stood still while they were saved
        if not vmstate.set_clock(host_dir(settings, name) / "clock.in"):
            say(f"VM host {name}: its clock could not be set (its clock port is closed)")
    return resumed


def _after_resume(settings: Settings, name: str, accel: str) -> None:
    """A resumed host answers once its libvirtd does (its services ran when it was saved)."""
    deadline = time.monotonic() + BOOT_TIMEOUT[accel]
    while not _answers(settings.uri(name)):
        if not is_up(settings, name) or time.monotonic() > deadline:
            raise EnvironmentProblem(
                f"VM host {name} was resumed but its libvirtd does not answer: run "
                "`lab hosts down --purge` and `lab hosts up --vm` to boot it afresh")
        time.sleep(0.2)


def down(settings: Settings, names: list[str], purge: bool = False, say=print) -> None:
    """Suspend the named hosts (their state saved, resumed by the next `up`), or with `purge`
    power them off and delete them. A host whose state cannot be saved is powered off."""
    running = [n for n in names if is_up(settings, n)]
    if purge:
        for name in names:
            stop(settings, name, sync=False)
            shutil.rmtree(host_dir(settings, name), ignore_errors=True)
    elif running:
        # Synced first: should a state not load, the host boots from its disks instead.
        with ThreadPoolExecutor(max_workers=len(running)) as pool:
            list(pool.map(lambda n: _sync(settings, n), running))
        version = _qemu_version()
        hosts = {n: (host_dir(settings, n), qemu_pid(settings, n)) for n in running}
        keys = {n: vmstate.key(settings, _running_argv(settings, n), version, _recorded_build(settings, n))
                for n in running}
        for name, why in vmstate.suspend(hosts, keys).items():
            say(f"VM host {name}: could not save its state ({why}); powering it off "
                "(the next `lab hosts up --vm` boots it)")
            try:
                vmstate.cont(host_dir(settings, name))
            except QMPError:
                pass
            stop(settings, name)
        for name in running:
            if is_up(settings, name):      # saved, but QEMU did not quit in time
                stop(settings, name, sync=False)
    if not any(is_up(settings, n) for n in known(settings)):
        _stop_switch(settings)
        if not any(vmstate.saved(host_dir(settings, n)) for n in known(settings)):
            (vm_dir(settings) / "storage").unlink(missing_ok=True)


def status(settings: Settings, names=None) -> list[Host]:
    """Each VM host: up, booting, saved (down, resumed by the next `up --vm`) or down."""
    result = []
    for name in sorted(set(known(settings)) | set(names or []), key=slot):
        hdir = host_dir(settings, name)
        state, accel, kernel = "down", None, None
        if is_up(settings, name):
            state = "up" if _answers(settings.uri(name)) else "booting"
            accel = _read(hdir / "accel")
            kernel = _read(hdir / "kernel")
        elif vmstate.saved(hdir):
            state = "saved"
        result.append(Host(name, settings.uri(name), settings.port(name), state, accel,
                           kind="vm", kernel=kernel))
    return result


def environment(settings: Settings, up_names: list[str]) -> dict[str, str]:
    """The VM hosts' variables: the same as the light hosts' plus LAB_DISKS and ssh."""
    storage = storage_host(settings) or up_names[0]
    env = {f"LAB_URI_{n.upper()}": settings.uri(n) for n in up_names}
    env["LIBVIRT_DEFAULT_URI"] = settings.uri(up_names[0])
    env.update({
        # For the guests' own pool definitions: these addresses exist only on the link.
        "LAB_SHARE_HOST": link_address(storage),
        "LAB_SHARE_PATH": SHARE_PATH,
        "LAB_SHARE_FORMAT": "nfs",
        "LAB_ISCSI_HOST": link_address(storage),
        "LAB_ISCSI_TARGET": ISCSI_TARGET,
        "LAB_DISKS": " ".join(disk_names(spare_disk_count())),
        # Each guest's name resolves on the link (/etc/hosts), so libvirt's default works.
        "LAB_MIGRATE_FLAGS": "",
    })
    for n in up_names:
        env[f"LAB_SSH_{n.upper()}"] = " ".join(ssh_command(settings, n))
    return env


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
