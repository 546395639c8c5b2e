"""lab3's reference solution through the libvirt Python API: what `virsh snapshot-*` does.

Used by the README demo and the tests. Each step tolerates its own earlier result, so solving
twice in a row leaves the same, correct state:

    python -m labs.lab3.solution [URI]      # default $LIBVIRT_DEFAULT_URI
"""
from __future__ import annotations

import sys

import libvirt

from .names import BRANCH, CLEAN, EXTERNAL, LIVE, RAW, VM

#: An external, disk-only snapshot of vda; libvirt names the qcow2 overlay after the image.
EXTERNAL_XML = ("<domainsnapshot><name>{name}</name>"
                "<disks><disk name='vda' snapshot='external'><driver type='qcow2'/></disk></disks>"
                "</domainsnapshot>")


def snapshot_xml(name: str) -> str:
    """The smallest snapshot description: libvirt picks internal, with memory if running."""
    return f"<domainsnapshot><name>{name}</name></domainsnapshot>"


def has_snapshot(dom, name: str) -> bool:
    return name in dom.snapshotListNames(0)


def take_clean(dom) -> None:
    """snap-offline: `clean` with the domain shut off (disk only, internal to the qcow2)."""
    if has_snapshot(dom, CLEAN):
        return
    if dom.isActive():
        dom.destroy()
    dom.snapshotCreateXML(snapshot_xml(CLEAN), 0)


def take_live(dom) -> None:
    """snap-live: start the domain, then `live-1` with its memory (internal, child of clean)."""
    if has_snapshot(dom, LIVE):
        return
    if not dom.isActive():
        dom.create()
    dom.snapshotCreateXML(snapshot_xml(LIVE), 0)


def revert_and_branch(dom) -> None:
    """snap-revert: go back to `clean` (which stops the domain), then take `branch-b`."""
    if has_snapshot(dom, BRANCH):
        dom.snapshotLookupByName(BRANCH, 0).delete(0)
    dom.revertToSnapshot(dom.snapshotLookupByName(CLEAN, 0), 0)
    dom.snapshotCreateXML(snapshot_xml(BRANCH), 0)


def take_external(dom) -> None:
    """snap-external: a raw image has no internal snapshots, so a qcow2 overlay goes on top."""
    if has_snapshot(dom, EXTERNAL):
        return
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
    dom.snapshotCreateXML(EXTERNAL_XML.format(name=EXTERNAL), flags)


def solve(uri: str | None = None) -> None:
    conn = libvirt.open(uri)
    try:
        vm = conn.lookupByName(VM)
        take_clean(vm)
        take_live(vm)
        revert_and_branch(vm)
        take_external(conn.lookupByName(RAW))
    finally:
        conn.close()


if __name__ == "__main__":
    solve(sys.argv[1] if len(sys.argv) > 1 else None)
