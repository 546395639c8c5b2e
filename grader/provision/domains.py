"""Domains of a lab's starting state: defined with the lab's metadata and a fresh nonce, started,
removed with their snapshot metadata."""
from __future__ import annotations

import secrets

import libvirt

from grader.core.xmlmodel import LAB_NS
from grader.errors import EnvironmentProblem, one_line
from grader.labhosts.kvm import domain_type
from grader.provision.pools import lookup
from grader.templating import render


def new_nonce() -> str:
    return secrets.token_hex(8)


def define_domain(conn, name: str, lab: str, disks: list[dict], memory_mib: int = 64,
                  nonce: str | None = None):
    """Define a lab domain tagged with the lab's metadata and a fresh nonce."""
    remove_domain(conn, name)
    xml = render("domain.xml.j2", name=name, lab=lab, lab_ns=LAB_NS, nonce=nonce or new_nonce(),
                 domain_type=domain_type(conn), disks=disks, memory_mib=memory_mib)
    return conn.defineXML(xml)


def remove_domain(conn, name: str) -> None:
    """Stop and undefine a domain with its snapshot metadata; its files go with its pool."""
    dom = lookup(conn.lookupByName, name)
    if dom is None:
        return
    if dom.isActive():
        persistent = dom.isPersistent()
        dom.destroy()
        if not persistent:
            return  # a transient domain (e.g. migrated without --persistent) is gone once stopped
    for snap in dom.listAllSnapshots(0):
        try:
            snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
        except libvirt.libvirtError as err:
            if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                raise
    if dom.isPersistent():
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                          | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                          | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
                          | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)


def start_domain(dom) -> None:
    try:
        dom.create()
    except libvirt.libvirtError as err:
        raise EnvironmentProblem(f"domain {dom.name()} did not start: {one_line(err)}; "
                                 "check that virtlogd runs and /dev/kvm is usable (or TCG is offered)") from None
