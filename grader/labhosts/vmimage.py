"""The VM hosts' image: Debian 12 with its own kernel, built from Debian packages, cached.

Two layers, each cached under LAB_IMAGES/images and named by the hash of what it is made from:

* the base: the Debian packages (mmdebstrap; zfs-dkms compiled for the image's kernel, the
  initramfs made for a virtio disk), kept as a tarball. Minutes to build, rebuilt only when the
  package list or its build hooks change;
* the image: the base plus this project's guest files (`guest/`) and the services they enable,
  turned into an ext4 file system (`mkfs.ext4 -d`, no mounting, no loop device) and booted with
  the kernel and initrd copied out of it. Seconds to assemble from the base, so a change to a
  guest script costs no package build.

Each VM host runs on its own qcow2 overlay of the image.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grader.errors import EnvironmentProblem
from grader.labhosts import earlyboot

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
ROOT_SIZE = "6G"

PACKAGES = (
    "linux-image-amd64", "linux-headers-amd64", "systemd-sysv", "udev", "kmod", "dbus",
    "iproute2", "openssh-server", "procps", "less",
    "libvirt-daemon-system", "libvirt-clients", "libvirt-daemon-driver-storage-zfs",
    "qemu-system-x86", "qemu-utils",
    "lvm2", "thin-provisioning-tools", "parted",
    "nfs-kernel-server", "nfs-common", "open-iscsi", "targetcli-fb",
    "dkms", "zfs-dkms", "zfsutils-linux",
    "libvirt-daemon-driver-storage-iscsi-direct", "qemu-block-extra",   # iscsi-direct pools too
    # The classroom image built from the same base (studentimage): first-boot credentials,
    # network and a root that grows with its disk (cloud-init, ifupdown and DHCP, growpart),
    # and this project's venv.
    "cloud-init", "cloud-guest-utils", "ifupdown", "isc-dhcp-client", "sudo", "python3-venv",
)

GUEST_DIR = Path(__file__).with_name("guest")

#: Where each guest file goes in the image, and its mode.
GUEST_FILES = {
    "labhost-setup": ("usr/local/sbin/labhost-setup", 0o755),
    "labhost-storage": ("usr/local/sbin/labhost-storage", 0o755),
    "labhost-setup.service": ("etc/systemd/system/labhost-setup.service", 0o644),
    "labhost-storage.service": ("etc/systemd/system/labhost-storage.service", 0o644),
    "labhost-zfs.service": ("etc/systemd/system/labhost-zfs.service", 0o644),
    "labhost-clock.service": ("etc/systemd/system/labhost-clock.service", 0o644),
    "labhost-ready.service": ("etc/systemd/system/labhost-ready.service", 0o644),
    "10-user.network": ("etc/systemd/network/10-user.network", 0o644),
    "cloud-init.disabled": ("etc/cloud/cloud-init.disabled", 0o644),   # lab hosts: the kernel command line
    "libvirtd.conf": ("etc/libvirt/libvirtd.conf", 0o644),
    "libvirtd.default": ("etc/default/libvirtd", 0o644),
    "labhost-blacklist.conf": ("etc/modprobe.d/labhost-blacklist.conf", 0o644),
    "ssh-fast.conf": ("etc/systemd/system/ssh.service.d/labhost-fast.conf", 0o644),
    "sshd-labhost.conf": ("etc/ssh/sshd_config.d/labhost.conf", 0o644),
}

ENABLE = ("labhost-setup.service", "labhost-storage.service", "labhost-zfs.service",
          "labhost-clock.service", "labhost-ready.service",
          "systemd-networkd.service", "libvirtd-tls.socket", "ssh.service")
#: Units that would hold up the boot for nothing the labs use: mounting ZFS file systems comes
#: before local-fs.target, and loading the module and importing the zpools wait for udev to
#: settle before sysinit.target (tens of seconds each under emulation). labhost-zfs.service
#: loads the module and imports the zpools after the boot instead.
#: Nor do restoring a saved iSCSI target (labhost-storage makes it), scrubbing ext4 snapshots
#: (there are none) or ifupdown (systemd-networkd configures the links). device-mapper's targets (snapshot, thin) load when LVM first asks for them.
#: Nor what the boot does for nothing the labs use (measured with systemd-analyze blame inside
#: a TCG guest: seconds each, on the guest's one vCPU): resuming libvirt guests after a clean
#: shutdown (lab hosts are suspended or powered off), binfmt, preloading modules that load on
#: demand (loop, fuse) or are never used (drm, efi_pstore), hugepages, debug and tracing file
#: systems, and LVM's monitoring of volumes active at boot (dmeventd still monitors new ones).
MASK = ("zfs-mount.service", "zfs-share.service", "zfs-load-module.service",
        "zfs-import-cache.service", "zfs-import-scan.service", "rtslib-fb-targetctl.service",
        "e2scrub_reap.service", "networking.service",
        "libvirt-guests.service", "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount",
        "modprobe@drm.service", "modprobe@efi_pstore.service", "modprobe@fuse.service",
        "modprobe@loop.service", "dev-hugepages.mount", "sys-kernel-debug.mount",
        "sys-kernel-tracing.mount", "lvm2-monitor.service")
#: Left out of the image: libvirtd probes every QEMU emulator it finds on its first connection
#: (3 s for this one under emulation, every cold boot), and the labs' domains are x86_64 only.
REMOVE = ("usr/bin/qemu-system-i386",)
#: Enabled by their packages, started only where needed: the NFS server on the storage host
#: (labhost-setup starts it), the NFS client's helpers when a mount needs them (NFSv4 needs
#: none; mount.nfs starts rpc-statd for NFSv3).
DISABLE = ("nfs-server.service", "nfs-client.target")

#: Run inside the new root by mmdebstrap (it mounts /proc, /sys and /dev for its hooks).
CUSTOMIZE = (
    # The root disk is virtio and ext4: an initrd with just those drivers (not "most" of the
    # kernel's 3,000 modules) unpacks and settles in seconds under emulation.
    'sed -i "s/^MODULES=.*/MODULES=list/" "$1/etc/initramfs-tools/initramfs.conf"',
    'printf "virtio_pci\\nvirtio_blk\\next4\\ncrc32c_generic\\n" >> "$1/etc/initramfs-tools/modules"',
    'chroot "$1" update-initramfs -u -k all',
    # zfs-dkms's own postinst builds for the running kernel (this machine's): build for the image's.
    'for k in "$1"/lib/modules/*; do chroot "$1" dkms autoinstall -k "${k##*/}"; done',
    'ls "$1"/lib/modules/*/updates/dkms/zfs.ko >/dev/null',
    'echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" > "$1/etc/fstab"',
    'rm -f "$1"/etc/libvirt/qemu/networks/autostart/default.xml',
    ': > "$1/etc/machine-id"',
)


@dataclass(frozen=True)
class Image:
    """A built image: the root file system and the kernel and initrd that boot it."""

    dir: Path

    @property
    def root(self) -> Path:
        return self.dir / "root.img"

    @property
    def kernel(self) -> Path:
        return self.dir / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.dir / "initrd.img"

    @property
    def info(self) -> dict:
        return json.loads((self.dir / "image.json").read_text())

    def ready(self) -> bool:
        return (self.dir / "image.json").is_file()


def base_recipe() -> dict:
    """What the base (the Debian packages) is made from: its hash names the cached tarball."""
    return {"suite": SUITE, "mirror": MIRROR, "packages": sorted(PACKAGES), "customize": CUSTOMIZE}


def recipe() -> dict:
    """Everything the image is made from: its hash is the cache key."""
    files = {name: (GUEST_DIR / name).read_text() for name in sorted(GUEST_FILES)}
    return {"base": base_recipe(), "size": ROOT_SIZE, "files": files, "places": GUEST_FILES,
            "enable": ENABLE, "mask": MASK, "disable": DISABLE, "remove": REMOVE,
            "earlyboot": [earlyboot.SCRIPT, earlyboot.ROOT_MODULES, earlyboot.PATH]}


def _hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def recipe_hash() -> str:
    return _hash(recipe())


def base_hash() -> str:
    return _hash(base_recipe())


def cached(home: Path) -> Image:
    return Image(home / "images" / recipe_hash())


def base_tarball(home: Path) -> Path:
    return home / "images" / f"base-{base_hash()}" / "rootfs.tar"


@contextmanager
def _locked(path: Path):
    """One build at a time per machine: a second `up --vm` (or test run) waits, then reuses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def ensure(home: Path, say=print) -> Image:
    """The image for the current recipe, built first if it is not cached yet."""
    image = cached(home)
    with _locked(home / "images" / ".image.lock"):
        if not image.ready():
            build(image, home, say)
            prune(home, keep=image)
    return image


def prune(home: Path, keep: Image) -> None:
    """Remove the images of older recipes that no running VM host boots from (a QEMU process
    holds its image's root.img open, as the backing file of its overlay)."""
    in_use = set()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            in_use |= {Path(os.readlink(fd)).parent for fd in fd_dir.iterdir()}
        except OSError:
            continue          # a process that ended, or not ours to read
    for old in (home / "images").iterdir():
        if (old.is_dir() and old != keep.dir and not old.name.startswith("base-")
                and (old / "image.json").is_file() and old not in in_use):
            shutil.rmtree(old, ignore_errors=True)


BASE_WHAT = f"Debian {SUITE} with its kernel, libvirt, LVM, NFS, iSCSI and ZFS"


class Steps:
    """A build's progress: `[n/total] text (after S s)` per step, indented details within one."""

    def __init__(self, total: int, say=print):
        self.total, self.say, self.started = total, say, time.monotonic()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def step(self, n: int, text: str) -> None:
        self.say(f"[{n}/{self.total}] {text} (after {self.seconds:.0f} s)")

    def detail(self, text: str) -> None:
        self.say(f"      {text} (after {self.seconds:.0f} s)")


def ensure_base(home: Path, log: Path, progress: Steps) -> Path:
    """The Debian base's tarball, built first unless cached: step 1 of `progress` says which,
    and its details each stage of a build."""
    tarball = base_tarball(home)
    with _locked(home / "images" / ".base.lock"):
        if tarball.is_file():
            progress.step(1, f"{BASE_WHAT}: cached ({tarball.parent.name})")
        else:
            progress.step(1, f"{BASE_WHAT}: several minutes, log in {log}")
            build_base(tarball, log, progress.detail)
    return tarball


def _run(cmd: list[str], what: str, log: Path, progress=None) -> None:
    """Run a build step, its output into `log`; `progress(line)` sees each line as it comes."""
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, errors="replace")
        for line in proc.stdout:
            out.write(line)
            out.flush()
            if progress is not None:
                progress(line)
        returncode = proc.wait()
    if returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        raise EnvironmentProblem(f"building the VM host image failed while {what} "
                                 f"({tail[0][:200]}): see {log}")


#: mmdebstrap's own stages, as the long first step reports them.
BASE_STAGES = {
    "I: downloading packages": "downloading the packages",
    "I: extracting archives": "unpacking them",
    "I: installing essential packages": "installing the essential ones",
    "I: installing remaining packages": "installing the others (zfs-dkms compiles ZFS: the longest part)",
    "I: running --customize-hook": "the initrd and ZFS for the image's kernel",
    "I: creating tarball": "writing the base",
}


def build(image: Image, home: Path, say=print) -> None:
    """Build `image` (and its base first, unless cached); show each step and how long it took."""
    for program in ("mmdebstrap", "mkfs.ext4"):
        if shutil.which(program) is None:
            raise EnvironmentProblem(f"{program} is missing: run `bash scripts/install.sh` "
                                     "(it installs the Debian packages VM hosts need)")
    work = image.dir.with_name(image.dir.name + ".build")
    shutil.rmtree(work, ignore_errors=True)
    rootfs = work / "rootfs"
    work.mkdir(parents=True)
    log = work / "build.log"
    progress = Steps(4, say)
    step = progress.step
    tarball = ensure_base(home, log, progress)
    rootfs.mkdir()
    _run(["tar", "-C", str(rootfs), "--numeric-owner", "--xattrs", "--xattrs-include=*",
          "-xpf", str(tarball)], "unpacking the base", log)

    step(2, "the lab-host configuration")
    for name, (place, mode) in GUEST_FILES.items():
        target = rootfs / place
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(GUEST_DIR / name, target)
        target.chmod(mode)
    for place in REMOVE:
        (rootfs / place).unlink(missing_ok=True)
    _run(["systemctl", f"--root={rootfs}", "enable", *ENABLE], "enabling the services", log)
    _run(["systemctl", f"--root={rootfs}", "mask", *MASK], "masking the services", log)
    _run(["systemctl", f"--root={rootfs}", "disable", *DISABLE], "disabling the services", log)
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise EnvironmentProblem(f"the image has no kernel in /boot: see {log}")
    version = kernels[-1].name[len("vmlinuz-"):]
    shutil.copyfile(kernels[-1], work / "vmlinuz")
    shutil.copyfile(rootfs / "boot" / f"initrd.img-{version}", work / "initrd.img")
    earlyboot.append_init(work / "initrd.img", rootfs, version)

    step(3, f"the root file system ({ROOT_SIZE}, sparse)")
    _run(["mkfs.ext4", "-q", "-L", "labroot", "-d", str(rootfs), str(work / "root.img"),
          ROOT_SIZE], "making the file system", log)
    shutil.rmtree(rootfs)

    step(4, "done")
    (work / "image.json").write_text(json.dumps({
        "recipe": recipe_hash(), "base": base_hash(), "kernel": version, "suite": SUITE,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(progress.seconds)}, indent=2))
    shutil.rmtree(image.dir, ignore_errors=True)
    work.rename(image.dir)
    say(f"VM host image built in {progress.seconds:.0f} s: {image.dir}")


def build_base(tarball: Path, log: Path, detail=None) -> None:
    """mmdebstrap the Debian packages into `tarball`; older bases are removed once it is there."""
    partial = tarball.with_name(tarball.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["mmdebstrap", "--variant=minbase", "--components=main,contrib",
           "--include=" + ",".join(PACKAGES),
           "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*",
           "--aptopt=APT::Install-Recommends \"false\"", "--format=tar"]
    cmd += [f"--customize-hook={hook}" for hook in CUSTOMIZE]
    cmd += [SUITE, str(partial), MIRROR]
    seen = set()

    def progress(line: str) -> None:
        for prefix, text in BASE_STAGES.items():
            if line.startswith(prefix) and prefix not in seen and detail is not None:
                seen.add(prefix)
                detail(text)

    _run(cmd, "installing the packages", log, progress)
    partial.rename(tarball)
    for old in tarball.parent.parent.glob("base-*"):
        if old != tarball.parent:
            shutil.rmtree(old, ignore_errors=True)
