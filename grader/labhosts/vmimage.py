"""The VM hosts' image: Debian 12 with its own kernel, built from Debian packages, cached.

One recipe (the package list, the suite, the guest files under `guest/`) gives one image; its
hash names the cache directory under LAB_HOME/images, so an image is rebuilt only when the
recipe changes. The image is a plain ext4 file system (no partition table) booted with the
kernel and initrd copied out of it; each VM host runs on its own qcow2 overlay of it.

ZFS is Debian's zfs-dkms from contrib, compiled for the image's kernel while the image is built.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from grader.errors import EnvironmentProblem

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
)

GUEST_DIR = Path(__file__).with_name("guest")

#: Where each guest file goes in the image, and its mode.
GUEST_FILES = {
    "labhost-setup": ("usr/local/sbin/labhost-setup", 0o755),
    "labhost-storage": ("usr/local/sbin/labhost-storage", 0o755),
    "labhost-setup.service": ("etc/systemd/system/labhost-setup.service", 0o644),
    "labhost-storage.service": ("etc/systemd/system/labhost-storage.service", 0o644),
    "10-user.network": ("etc/systemd/network/10-user.network", 0o644),
    "libvirtd.conf": ("etc/libvirt/libvirtd.conf", 0o644),
    "modules.conf": ("etc/modules-load.d/labhost.conf", 0o644),
}

ENABLE = ("labhost-setup.service", "labhost-storage.service", "systemd-networkd.service",
          "libvirtd-tcp.socket", "ssh.service")

#: Run inside the new root by mmdebstrap (it mounts /proc, /sys and /dev for its hooks).
CUSTOMIZE = (
    # The root disk is virtio: make sure the initrd can find it whatever the build host is.
    'printf "virtio_pci\\nvirtio_blk\\nvirtio_net\\next4\\n" >> "$1/etc/initramfs-tools/modules"',
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


def recipe() -> dict:
    """Everything the image is made from: its hash is the cache key."""
    files = {name: (GUEST_DIR / name).read_text() for name in sorted(GUEST_FILES)}
    return {"suite": SUITE, "mirror": MIRROR, "size": ROOT_SIZE, "packages": sorted(PACKAGES),
            "files": files, "places": GUEST_FILES, "enable": ENABLE, "customize": CUSTOMIZE}


def recipe_hash() -> str:
    return hashlib.sha256(json.dumps(recipe(), sort_keys=True).encode()).hexdigest()[:16]


def cached(home: Path) -> Image:
    return Image(home / "images" / recipe_hash())


def ensure(home: Path, say=print) -> Image:
    """The image for the current recipe, built first if it is not cached yet."""
    image = cached(home)
    if image.ready():
        return image
    build(image, say)
    return image


def _run(cmd: list[str], what: str, log: Path) -> None:
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        raise EnvironmentProblem(f"building the VM host image failed while {what} "
                                 f"({tail[0][:200]}): see {log}")


def build(image: Image, say=print) -> None:
    """Build `image` from Debian packages; show each step and how long it took."""
    for program in ("mmdebstrap", "mkfs.ext4"):
        if shutil.which(program) is None:
            raise EnvironmentProblem(f"{program} is missing: run `bash scripts/install.sh` "
                                     "(it installs the Debian packages VM hosts need)")
    work = image.dir.with_name(image.dir.name + ".build")
    shutil.rmtree(work, ignore_errors=True)
    rootfs = work / "rootfs"
    work.mkdir(parents=True)
    log = work / "build.log"
    started = time.monotonic()
    steps = 4

    def step(n, text):
        say(f"[{n}/{steps}] {text} (after {time.monotonic() - started:.0f} s)")

    step(1, f"Debian {SUITE} with its kernel, libvirt, LVM, NFS, iSCSI and ZFS (zfs-dkms is "
            "compiled for the image's kernel): several minutes, log in " + str(log))
    cmd = ["mmdebstrap", "--variant=minbase", "--components=main,contrib",
           "--include=" + ",".join(PACKAGES),
           "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*",
           "--aptopt=APT::Install-Recommends \"false\""]
    cmd += [f"--customize-hook={hook}" for hook in CUSTOMIZE]
    cmd += [SUITE, str(rootfs), MIRROR]
    _run(cmd, "installing the packages", log)

    step(2, "the lab-host configuration")
    for name, (place, mode) in GUEST_FILES.items():
        target = rootfs / place
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(GUEST_DIR / name, target)
        target.chmod(mode)
    _run(["systemctl", f"--root={rootfs}", "enable", *ENABLE], "enabling the services", log)
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise EnvironmentProblem(f"the image has no kernel in /boot: see {log}")
    version = kernels[-1].name[len("vmlinuz-"):]
    shutil.copyfile(kernels[-1], work / "vmlinuz")
    shutil.copyfile(rootfs / "boot" / f"initrd.img-{version}", work / "initrd.img")

    step(3, f"the root file system ({ROOT_SIZE}, sparse)")
    _run(["mkfs.ext4", "-q", "-L", "labroot", "-d", str(rootfs), str(work / "root.img"),
          ROOT_SIZE], "making the file system", log)
    shutil.rmtree(rootfs)

    step(4, "done")
    (work / "image.json").write_text(json.dumps({
        "recipe": recipe_hash(), "kernel": version, "suite": SUITE,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.monotonic() - started)}, indent=2))
    shutil.rmtree(image.dir, ignore_errors=True)
    work.rename(image.dir)
    say(f"VM host image built in {time.monotonic() - started:.0f} s: {image.dir}")
