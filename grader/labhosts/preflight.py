"""Checks made before anything starts, so a missing piece is one clear line, not a half-up lab.

Each check raises EnvironmentProblem (exit status 2) naming what is wrong and what to do.
"""
from __future__ import annotations

import glob
import ipaddress
import os
import shutil
import socket

from grader.errors import EnvironmentProblem

INSTALL = "run `bash scripts/install.sh` (or apt-get install {package})"

#: Programs lab hosts run, and the Debian package that provides each.
PROGRAMS = {
    "libvirtd": "libvirt-daemon-system",
    "virtlogd": "libvirt-daemon-system",
    "virsh": "libvirt-clients",
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "glusterd": "glusterfs-server",
    "gluster": "glusterfs-server",
    "mount.glusterfs": "glusterfs-client",
    "tgtd": "tgt",
    "tgtadm": "tgt",
    "unshare": "util-linux",
    "setsid": "util-linux",
    "taskset": "util-linux",
    "mount": "mount",
    "certtool": "gnutls-bin",   # the lab hosts' CA and certificates (pki)
}

#: Loadable modules (no program to look for), as glob patterns, and their packages.
MODULES = {
    "/usr/lib/*/libvirt/storage-backend/libvirt_storage_backend_iscsi-direct.so":
        "libvirt-daemon-driver-storage-iscsi-direct",
    "/usr/lib/*/qemu/block-iscsi.so": "qemu-block-extra",
}


def euid() -> int:
    """The effective user id; a function so the check reads as one call."""
    return os.geteuid()


def require_root() -> None:
    if euid() != 0:
        raise EnvironmentProblem(
            "lab hosts must be started and stopped as root (they run libvirtd, glusterd and "
            "tgtd and mount file systems): run the command with sudo or as root")


def require_programs(path: str | None = None) -> None:
    for program, package in PROGRAMS.items():
        if shutil.which(program, path=path) is None:
            raise EnvironmentProblem(
                f"{program} not found (Debian package {package}): "
                + INSTALL.format(package=package))
    for pattern, package in MODULES.items():
        if not glob.glob(pattern):
            raise EnvironmentProblem(
                f"{pattern.rsplit('/', 1)[1]} not found (Debian package {package}): "
                + INSTALL.format(package=package))


#: What VM hosts need besides the light hosts' programs.
VM_PROGRAMS = {
    "mmdebstrap": "mmdebstrap",
    "vde_switch": "vde2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "mkfs.ext4": "e2fsprogs",
}


def require_vm_programs(path: str | None = None) -> None:
    for program, package in VM_PROGRAMS.items():
        if shutil.which(program, path=path) is None:
            raise EnvironmentProblem(
                f"{program} not found (Debian package {package}, needed for VM hosts): "
                + INSTALL.format(package=package))


def require_loopback_hostname() -> None:
    """GlusterFS bricks and mounts use this machine's name: it must resolve to loopback."""
    name = socket.gethostname()
    try:
        addr = socket.gethostbyname(name)
    except OSError:
        addr = None
    if addr is None or not ipaddress.ip_address(addr).is_loopback:
        raise EnvironmentProblem(
            f"this machine's name {name!r} resolves to {addr or 'nothing'}, not a loopback "
            f"address: add `127.0.1.1 {name}` to /etc/hosts")


def require_free(port: int, what: str, remedy: str) -> None:
    from grader.labhosts.procs import port_in_use

    if port_in_use(port):
        raise EnvironmentProblem(
            f"port {port} ({what}) is already in use by another program: {remedy}")
