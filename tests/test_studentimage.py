"""`lab image build --out`: a student VM host for classrooms, built, then booted as a hypervisor
would boot it — under BIOS (SeaBIOS) and under UEFI (OVMF), with a cloud-init NoCloud seed that
gives root an SSH key — and checked from inside over ssh: the project, JupyterLab, libvirt with
the pool types the labs need, the kernel on the EFI system partition.

The build reuses the VM hosts' Debian base (built first if it is not cached); like the VM-host
tests, these are skipped with LAB_VM_TESTS=0. The VM hosts themselves stay down meanwhile. Each guest is QEMU with user networking restricted
to this machine and one host forward on 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.labhosts import studentimage
from grader.testing.loopback import free_port

BIN = Path(sys.executable).parent
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS.fd")
BOOT_TIMEOUT = 600


# ---------------------------------------------------------------- without building

@pytest.mark.parametrize("text, why", [("20", "give a size such as 20G"),
                                        ("4G", "at least 8G"), ("twoG", "give a size")])
def test_a_wrong_size_is_one_line(text, why):
    with pytest.raises(UsageError, match=why):
        studentimage.parse_size(text)


def test_sizes():
    assert studentimage.parse_size("20G") == 20 * 2**30
    assert studentimage.parse_size("16384M") == 16 * 2**30


def test_every_file_of_the_image_is_in_the_package():
    for name, (place, mode) in studentimage.FILES.items():
        assert (studentimage.FILES_DIR / name).is_file(), name
        assert not place.startswith("/")
        if mode & 0o111:
            assert (studentimage.FILES_DIR / name).read_text().startswith("#!/bin/sh")


def test_out_in_a_missing_folder_is_one_line(tmp_path):
    done = subprocess.run([str(BIN / "lab"), "image", "build", "--out", str(tmp_path / "no" / "x.qcow2")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "does not exist" in done.stderr


# ---------------------------------------------------------------- built and booted

@pytest.fixture(scope="module")
def built(_vmhosts_session, image_builds, tmp_path_factory):
    output = image_builds.wait("student")  # built in the background while other tests ran
    if output is not None:
        return image_builds.student_image, output
    out = tmp_path_factory.mktemp("student") / "student.qcow2"
    started = time.monotonic()
    done = subprocess.run([str(BIN / "lab"), "image", "build", "--out", str(out), "--size", "10G"],
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr
    print(f"student image built in {time.monotonic() - started:.0f} s, {out.stat().st_size >> 20} MiB")
    return out, done.stderr


@pytest.mark.labhost
@pytest.mark.slow
def test_the_build_shows_its_steps_and_writes_a_compressed_qcow2(built):
    out, stderr = built
    assert [f"[{n}/6]" in stderr for n in range(1, 7)] == [True] * 6
    assert "student VM host image written in" in stderr and str(out) in stderr
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(out)],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["format"] == "qcow2" and info["virtual-size"] == 10 * 2**30
    assert info["actual-size"] < 3 * 2**30
    assert not list(out.parent.glob(".*.build"))     # no work folder left


def _seed(folder: Path, pubkey: str) -> Path:
    """A NoCloud seed, as `cloud-localds` or virt-install --cloud-init make it (FAT, CIDATA)."""
    seed = folder / "seed.img"
    (folder / "user-data").write_text(f"#cloud-config\nssh_authorized_keys:\n  - {pubkey}\n")
    (folder / "meta-data").write_text("instance-id: student-test-1\nlocal-hostname: pc13\n")
    subprocess.run(["mkfs.vfat", "-n", "CIDATA", "-C", str(seed), "2048"], check=True,
                   capture_output=True)
    subprocess.run(["mcopy", "-i", str(seed), str(folder / "user-data"), str(folder / "meta-data"), "::/"],
                   check=True, env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
    return seed


def boot(image: Path, folder: Path, firmware: str):
    """Boot an overlay of `image` with its seed; return (ssh argv, QEMU process, console log)."""
    folder.mkdir()
    key = folder / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    seed = _seed(folder, key.with_suffix(".pub").read_text().strip())
    overlay = folder / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image),
                    str(overlay)], check=True)
    port = free_port()
    argv = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max", "-m", "2048",
            "-smp", "1", "-nodefaults", "-display", "none", "-serial", f"file:{folder / 'console.log'}",
            "-drive", f"file={overlay},if=virtio,format=qcow2",
            "-drive", f"file={seed},if=virtio,format=raw,readonly=on",
            "-netdev", f"user,id=n,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
            "-device", "virtio-net-pci,netdev=n"]
    if firmware == "uefi":
        shutil.copyfile(OVMF_VARS, folder / "vars.fd")
        argv += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                 "-drive", f"if=pflash,format=raw,file={folder / 'vars.fd'}"]
    qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ssh = ["ssh", "-i", str(key), "-p", str(port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "root@127.0.0.1"]
    return ssh, qemu, folder / "console.log"


def wait_for_ssh(ssh, qemu, console: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < BOOT_TIMEOUT:
        assert qemu.poll() is None, console.read_text(errors="replace")[-2000:]
        if subprocess.run(ssh + ["true"], capture_output=True, timeout=60).returncode == 0:
            return time.monotonic() - started
        time.sleep(5)
    pytest.fail(f"no ssh within {BOOT_TIMEOUT} s; console: {console.read_text(errors='replace')[-1500:]}")


@pytest.fixture(scope="module", params=["bios", "uefi"])
def booted(request, built, tmp_path_factory):
    if request.param == "uefi" and not OVMF_CODE.is_file():
        pytest.fail("OVMF is missing: scripts/install.sh installs the ovmf package")
    ssh, qemu, console = boot(built[0], tmp_path_factory.mktemp(request.param) / "vm", request.param)
    try:
        seconds = wait_for_ssh(ssh, qemu, console)
        print(f"student VM host under {request.param}: ssh after {seconds:.0f} s")
        yield request.param, lambda command: subprocess.run(ssh + [command], capture_output=True,
                                                            text=True, timeout=300)
    finally:
        qemu.kill()
        qemu.wait()


@pytest.mark.labhost
@pytest.mark.slow
def test_cloud_init_gave_root_the_key_and_the_name(booted):
    firmware, run = booted
    assert run("hostname").stdout.strip() == "pc13"
    status = run("cloud-init status --wait").stdout
    assert "done" in status, status
    efi = run("test -d /sys/firmware/efi && echo uefi || echo bios").stdout.strip()
    assert efi == firmware


@pytest.mark.labhost
@pytest.mark.slow
def test_the_kernel_boots_from_the_efi_system_partition_and_stays_current(booted):
    _, run = booted
    assert run("findmnt -n -o FSTYPE /boot/efi").stdout.strip() == "vfat"
    assert run("findmnt -n -o FSTYPE /").stdout.strip() == "ext4"
    same = run("cmp /boot/efi/debian/linux /boot/vmlinuz-$(uname -r) && echo same").stdout
    assert "same" in same
    hook = run("/usr/local/sbin/kvm-storage-lab-esp && ls /boot/efi/debian").stdout.split()
    assert sorted(hook) == ["initrd", "linux"]


@pytest.mark.labhost
@pytest.mark.slow
def test_the_course_is_installed_with_jupyterlab_and_libvirt_runs_its_pool_types(booted):
    _, run = booted
    login = "bash -lc "
    assert run(login + "'lab --help'").returncode == 0
    assert run(login + "'jupyter lab --version'").stdout.strip().startswith("4.")
    assert run("test -f /opt/kvm-storage-lab/notebooks/lab5/lab5.ipynb && echo ok").stdout.strip() == "ok"
    caps = run("virsh -c qemu:///system pool-capabilities").stdout
    for kind in ("disk", "logical", "zfs", "netfs", "iscsi"):
        assert f"<pool type='{kind}' supported='yes'>" in caps, kind
    doctor = run(login + "'lab doctor --lab lab3'")
    assert "ready for lab3" in doctor.stdout, doctor.stdout + doctor.stderr
