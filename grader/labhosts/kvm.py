"""KVM or TCG: decided by what a libvirt host offers, never assumed.

A host offers domain type `kvm` only when its QEMU can use /dev/kvm; otherwise domains must be
defined with type `qemu` (TCG, pure emulation: slower but fine for the course's tiny domains).
"""
from __future__ import annotations

import grp
import os
import stat


from grader.core.xmlmodel import parse

KVM_DEVICE = "/dev/kvm"


def domain_type_from_capabilities(caps_xml: str) -> str:
    """"kvm" if a guest of the host's own architecture can run as a KVM domain, else "qemu"."""
    root = parse(caps_xml)
    arch = root.findtext("host/cpu/arch")
    for guest in root.iterfind("guest"):
        guest_arch = guest.find("arch")
        if guest_arch is None or (arch and guest_arch.get("name") != arch):
            continue
        if guest_arch.find("domain[@type='kvm']") is not None:
            return "kvm"
    return "qemu"


def domain_type(conn) -> str:
    """The domain type to use on `conn` (any libvirt connection): "kvm" or "qemu"."""
    return domain_type_from_capabilities(conn.getCapabilities())


def accel_name(domain_type_: str) -> str:
    """How `lab hosts list` names it: the accelerator, not libvirt's domain type."""
    return "kvm" if domain_type_ == "kvm" else "tcg"


def device_problem(path: str = KVM_DEVICE) -> str | None:
    """Why QEMU (user libvirt-qemu, group kvm) cannot use /dev/kvm, or None if it can."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"{path} does not exist (no hardware virtualisation here)"
    if not stat.S_ISCHR(st.st_mode):
        return f"{path} is not a character device"
    try:
        kvm_gid = grp.getgrnam("kvm").gr_gid
    except KeyError:
        kvm_gid = None
    if not (st.st_mode & 0o006 == 0o006 or (st.st_gid == kvm_gid and st.st_mode & 0o060 == 0o060)):
        return f"{path} is not usable by group kvm (run: chgrp kvm {path}; chmod 0660 {path})"
    return None
