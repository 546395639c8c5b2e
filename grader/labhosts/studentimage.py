"""`lab image build --out FILE.qcow2`: a student VM host for a classroom, bootable anywhere.

The lab hosts' Debian base (vmimage: its kernel, libvirt, LVM, ZFS, NFS, open-iscsi) plus what a
student's own VM needs: this repository in /opt/kvm-storage-lab with its virtual environment (the
grader, the notebooks, JupyterLab, nbgrader), cloud-init for the root password or SSH key at first
boot and the network (from virt-install --cloud-init, Proxmox's cloud-init drive or OpenStack), an
initrd for any common virtual disk, and its own bootloader for both firmwares.

The disk is GPT: an EFI system partition (FAT) and the root file system (ext4). The ESP holds
the kernel and initrd (kept current by a kernel hook, student/kvm-storage-lab-esp),
systemd-boot for UEFI, and SYSLINUX for BIOS (GPT's protective MBR carries SYSLINUX's gptmbr, which
boots the partition marked legacy-BIOS-bootable). Everything is written into files: sfdisk,
mkfs.vfat and mtools, `mkfs.ext4 -d` at the root partition's offset; only the steps that run
inside the new root (the venv, the initrd) see /proc, /sys and /dev, bound in a private mount
namespace that disappears with them.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

from grader import ROOT
from grader.errors import EnvironmentProblem, UsageError
from grader.labhosts import vmimage

MiB = 2**20
ESP_MIB = 512
ESP_START_MIB = 1
HOSTNAME = "kvm-storage-lab"
PROJECT_DIR = "/opt/kvm-storage-lab"
IMAGE_PYTHON = "3.11.2"      # Debian 12's python3
#: The wheel platforms Debian 12 (glibc 2.36, x86-64) runs: pip matches them one by one.
IMAGE_PLATFORMS = ([f"manylinux_2_{minor}_x86_64" for minor in range(36, 4, -1)]
                   + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64",
                      "linux_x86_64"])
FILES_DIR = Path(__file__).with_name("student")
#: Debian files on the machine that builds: the bootloaders and the tools that write them.
BUILD_TOOLS = {"sfdisk": "fdisk", "mkfs.vfat": "dosfstools", "mcopy": "mtools", "mmd": "mtools",
               "syslinux": "syslinux", "qemu-img": "qemu-utils", "mkfs.ext4": "e2fsprogs",
               "unshare": "util-linux"}
SYSTEMD_BOOT = Path("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")     # systemd-boot-efi
GPTMBR = Path("/usr/lib/syslinux/mbr/gptmbr.bin")                        # syslinux-common
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
LINUX_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
#: Where each file of student/ goes in the image, and its mode.
FILES = {
    "90-kvm-storage-lab.cfg": ("etc/cloud/cloud.cfg.d/90-kvm-storage-lab.cfg", 0o644),
    "kvm-storage-lab.sh": ("etc/profile.d/kvm-storage-lab.sh", 0o644),
    "kvm-storage-lab-esp": ("usr/local/sbin/kvm-storage-lab-esp", 0o755),
    "zz-kvm-storage-lab-esp": ("etc/kernel/postinst.d/zz-kvm-storage-lab-esp", 0o755),
    "zz-kvm-storage-lab-initrd": ("etc/initramfs/post-update.d/zz-kvm-storage-lab-esp", 0o755),
    "motd": ("etc/motd", 0o644),
}


def parse_size(text: str) -> int:
    """'20G', '16384M' -> bytes; at least 8 GiB (the system, the venv and room for the labs)."""
    units = {"M": MiB, "G": 1024 * MiB}
    number, unit = text[:-1], text[-1:].upper()
    if unit not in units or not number.isdigit():
        raise UsageError(f"--size {text!r}: give a size such as 20G or 16384M")
    size = int(number) * units[unit]
    if size < 8 * 1024 * MiB:
        raise UsageError(f"--size {text}: a student VM host needs at least 8G")
    return size


def check_tools() -> None:
    missing = sorted({pkg for tool, pkg in BUILD_TOOLS.items() if shutil.which(tool) is None}
                     | {pkg for path, pkg in ((SYSTEMD_BOOT, "systemd-boot-efi"),
                                              (GPTMBR, "syslinux-common")) if not path.is_file()})
    if missing:
        raise EnvironmentProblem(f"building a student VM host needs the Debian packages "
                                 f"{', '.join(missing)}: run `bash scripts/install.sh` (as root)")
    if not (ROOT / "notebooks").is_dir() or not (ROOT / ".git").exists():
        raise EnvironmentProblem(f"`lab image build --out` copies this repository into the image: run it "
                                 f"from a git checkout of the project (none at {ROOT})")


def build(out: Path, size: int, images_home: Path, say=print) -> Path:
    """Write the student VM host image to `out` (qcow2, compressed); return `out`."""
    if out.exists() and not out.is_file():
        raise UsageError(f"--out {out} is not a file: name the qcow2 file to write")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: the folder {out.parent} does not exist")
    check_tools()
    progress = vmimage.Steps(6, say)
    step = progress.step

    work = out.parent / f".{out.name}.build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    log = work / "build.log"
    try:
        tarball = vmimage.ensure_base(images_home, log, progress)
        rootfs = work / "rootfs"
        rootfs.mkdir()
        _run(["tar", "-C", str(rootfs), "--numeric-owner", "--xattrs", "--xattrs-include=*",
              "-xpf", str(tarball)], "unpacking the base", log)

        step(2, "this project, its notebooks and JupyterLab in " + PROJECT_DIR)
        install_project(rootfs, work, log)

        step(3, "first boot, network and an initrd for any virtual disk")
        root_part, esp_part = str(uuid.uuid4()), str(uuid.uuid4())
        configure(rootfs, root_part, esp_part, log)

        step(4, "the EFI system partition: systemd-boot (UEFI), SYSLINUX (BIOS), kernel and initrd")
        esp = work / "esp.img"
        make_esp(rootfs, esp, root_part, log)

        step(5, f"the disk ({size // (1024 * MiB)} GiB, GPT) and its root file system")
        raw = work / "disk.raw"
        make_disk(raw, size, esp, rootfs, root_part, esp_part, log)
        shutil.rmtree(rootfs)

        step(6, f"compressing to {out}")
        partial = work / out.name
        _run(["qemu-img", "convert", "-c", "-O", "qcow2", str(raw), str(partial)], "compressing", log)
        partial.replace(out)
    except BaseException:
        say(f"the build stopped; its log stays in {log}")
        raise
    shutil.rmtree(work)
    say(f"student VM host image written in {progress.seconds:.0f} s: {out} "
        f"({out.stat().st_size // MiB} MiB); docs/instructor.md says how to import it")
    return out


def _run(cmd: list[str], what: str, log: Path, **kwargs) -> None:
    with open(log, "a") as f:
        f.write(f"\n$ {shlex.join(cmd)}\n")
        f.flush()
        if "input" not in kwargs:
            kwargs["stdin"] = subprocess.DEVNULL      # a tool that asks would wait for ever
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, **kwargs)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        raise EnvironmentProblem(f"building the student VM host image failed while {what} "
                                 f"({tail[0][:200]}): see {log}")


def in_root(rootfs: Path, command: str, what: str, log: Path) -> None:
    """Run `command` chrooted in `rootfs`, with /proc, /sys and /dev bound in a private mount
    namespace: the mounts vanish with it, even if the command fails."""
    script = ('set -e; mkdir -p "$R/proc" "$R/sys" "$R/dev"; mount -t proc proc "$R/proc"; '
              'mount --rbind /sys "$R/sys"; mount --rbind /dev "$R/dev"; '
              'exec chroot "$R" /bin/sh -c "$CMD"')
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "R": str(rootfs), "CMD": command,
           "LANG": "C.UTF-8"}
    _run(["unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c", script],
         what, log, env=env)


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True)
    return [f for f in out.stdout.decode().split("\0") if f and (ROOT / f).is_file()]


def install_project(rootfs: Path, work: Path, log: Path) -> None:
    """The repository's tracked files in PROJECT_DIR, and a venv there with the project installed
    from wheels fetched and built here: nothing inside the new root reaches the network."""
    target = rootfs / PROJECT_DIR.lstrip("/")
    for name in _tracked_files():
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest)
    wheels = rootfs / "tmp" / "wheels"
    wheels.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip"]
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    compiled = [d for d in deps if d.startswith("libvirt-python")]
    # Wheels for the image's Python (Debian 12's 3.11.2, glibc 2.36), whatever this one is;
    # libvirt-python has no wheels: built here, against the same libvirt (Debian 12's).
    _run([*pip, "download", "--quiet", "--dest", str(wheels), "--only-binary=:all:",
          "--python-version", IMAGE_PYTHON, "--implementation", "cp", "--abi", "cp311",
          *[f"--platform={tag}" for tag in IMAGE_PLATFORMS],
          *[d for d in deps if d not in compiled]], "downloading the project's dependencies", log)
    _run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), *compiled, str(ROOT)],
         "building libvirt-python's and the project's wheels", log)
    in_root(rootfs, f"python3 -m venv {PROJECT_DIR}/.venv && "
                    f"{PROJECT_DIR}/.venv/bin/pip install --quiet --no-index --find-links /tmp/wheels "
                    "kvm-storage-lab", "installing the project into the image's venv", log)
    shutil.rmtree(wheels)


def configure(rootfs: Path, root_part: str, esp_part: str, log: Path) -> None:
    for name, (place, mode) in FILES.items():
        dest = rootfs / place
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FILES_DIR / name, dest)
        dest.chmod(mode)
    (rootfs / "etc" / "fstab").write_text(
        f"PARTUUID={root_part} / ext4 rw,errors=remount-ro 0 1\n"
        f"PARTUUID={esp_part} /boot/efi vfat umask=0077 0 2\n")
    (rootfs / "boot" / "efi").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc" / "hostname").write_text(HOSTNAME + "\n")
    (rootfs / "etc" / "hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {HOSTNAME}\n"
                                          "::1 localhost ip6-localhost ip6-loopback\n")
    (rootfs / "etc" / "machine-id").write_text("")
    (rootfs / "etc" / "default" / "locale").write_text("LANG=C.UTF-8\n")
    # Any hypervisor's disk (virtio, SCSI, SATA, NVMe), not only the lab hosts' virtio.
    conf = rootfs / "etc" / "initramfs-tools" / "initramfs.conf"
    conf.write_text(conf.read_text().replace("MODULES=list", "MODULES=most"))
    (rootfs / "etc" / "initramfs-tools" / "modules").write_text("")
    in_root(rootfs, "update-initramfs -u -k all", "making the initrd", log)


def make_esp(rootfs: Path, esp: Path, root_part: str, log: Path) -> None:
    """The FAT EFI system partition, written with mtools (no mount): both bootloaders, the
    kernel and initrd, one boot entry each."""
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise EnvironmentProblem(f"the base has no kernel in /boot: see {log}")
    version = kernels[-1].name[len("vmlinuz-"):]
    options = f"root=PARTUUID={root_part} ro quiet console=tty0 console=ttyS0,115200n8"
    # -h: the partition's first sector, which SYSLINUX's boot sector needs to find itself.
    _run(["mkfs.vfat", "-F", "32", "-n", "ESP", "-h", str(ESP_START_MIB * MiB // 512), "-C",
          str(esp), str(ESP_MIB * 1024)], "making the EFI system partition", log)
    files = {
        "EFI/BOOT/BOOTX64.EFI": SYSTEMD_BOOT.read_bytes(),
        "loader/loader.conf": b"default debian.conf\ntimeout 0\n",
        "loader/entries/debian.conf": (f"title Debian 12 (kvm-storage-lab)\nlinux /debian/linux\n"
                                       f"initrd /debian/initrd\noptions {options}\n").encode(),
        "syslinux/syslinux.cfg": (f"DEFAULT debian\nTIMEOUT 0\nLABEL debian\n  LINUX /debian/linux\n"
                                  f"  INITRD /debian/initrd\n  APPEND {options}\n").encode(),
        "debian/linux": kernels[-1].read_bytes(),
        "debian/initrd": (rootfs / "boot" / f"initrd.img-{version}").read_bytes(),
    }
    staging = esp.with_name("esp")
    for name, data in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(data)
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    _run(["mcopy", "-s", "-i", str(esp), *[str(p) for p in sorted(staging.iterdir())], "::/"],
         "copying onto the EFI system partition", log, env=env)
    _run(["syslinux", "--install", "--directory", "/syslinux", str(esp)],
         "installing SYSLINUX", log, env=env)
    shutil.rmtree(staging)


def make_disk(raw: Path, size: int, esp: Path, rootfs: Path, root_part: str, esp_part: str,
              log: Path) -> None:
    """GPT with the ESP (legacy-BIOS-bootable, for gptmbr) and the root, written into one file."""
    root_start = ESP_START_MIB + ESP_MIB
    root_mib = size // MiB - root_start - 1          # GPT keeps its backup table in the last MiB
    raw.unlink(missing_ok=True)
    with open(raw, "wb") as f:
        f.truncate(size)
    table = (f"label: gpt\n"
             f"start={ESP_START_MIB}MiB, size={ESP_MIB}MiB, type={ESP_TYPE}, uuid={esp_part}, "
             f"name=ESP, attrs=LegacyBIOSBootable\n"
             f"start={root_start}MiB, size={root_mib}MiB, type={LINUX_TYPE}, uuid={root_part}, "
             f"name=root\n")
    _run(["sfdisk", "--quiet", str(raw)], "writing the partition table", log, input=table.encode())
    with open(raw, "r+b") as disk:
        disk.write(GPTMBR.read_bytes()[:440])          # boot code only: the table stays
        disk.seek(ESP_START_MIB * MiB)
        with open(esp, "rb") as part:
            shutil.copyfileobj(part, disk, 4 * MiB)
    esp.unlink()
    _run(["mkfs.ext4", "-q", "-F", "-L", "studentroot", "-E", f"offset={root_start * MiB}", "-d",
          str(rootfs), str(raw), f"{root_mib}M"], "making the root file system", log)
