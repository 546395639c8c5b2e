"""lab2's reference solution through the libvirt Python API: what `virsh vol-create-as` and
`vol-create-from` do. libvirt runs qemu-img on the host itself, so this works the same on a
remote host and inside a lab host's private /var/lib/libvirt.

Each step tolerates its own earlier result, so solving twice in a row leaves the same state:

    python -m labs.lab2.solution [URI]      # default $LIBVIRT_DEFAULT_URI
"""
from __future__ import annotations

import sys

import libvirt

POOL = "lab2"
GiB = 2**30


def volume_xml(name: str, fmt: str, capacity: int, allocation: int = 0,
               backing: str | None = None, backing_format: str = "qcow2") -> str:
    """A volume description; allocation == capacity preallocates, 0 makes it thin."""
    chain = (f"<backingStore><path>{backing}</path><format type='{backing_format}'/></backingStore>"
             if backing else "")
    return (f"<volume><name>{name}</name><capacity unit='bytes'>{capacity}</capacity>"
            f"<allocation unit='bytes'>{allocation}</allocation>"
            f"<target><format type='{fmt}'/></target>{chain}</volume>")


def ensure_volume(pool, name: str, xml: str, source=None):
    """The volume `name`, created from `xml` (cloned from `source` if given) unless it exists."""
    if name in pool.listVolumes():
        return pool.storageVolLookupByName(name)
    if source is not None:
        return pool.createXMLFrom(xml, source, 0)
    return pool.createXML(xml, 0)


def solve(uri: str | None = None) -> None:
    conn = libvirt.open(uri)
    try:
        pool = conn.storagePoolLookupByName(POOL)
        pool.refresh(0)
        raw = ensure_volume(pool, "disk-raw.img", volume_xml("disk-raw.img", "raw", GiB, GiB))
        thin = ensure_volume(pool, "disk-thin.qcow2", volume_xml("disk-thin.qcow2", "qcow2", 10 * GiB))
        ensure_volume(pool, "disk-converted.qcow2",
                      volume_xml("disk-converted.qcow2", "qcow2", raw.info()[1]), source=raw)
        ensure_volume(pool, "disk-overlay.qcow2",
                      volume_xml("disk-overlay.qcow2", "qcow2", 10 * GiB, backing=thin.path()))
        pool_capacity = pool.info()[1]
        ensure_volume(pool, "disk-huge.qcow2", volume_xml("disk-huge.qcow2", "qcow2", 2 * pool_capacity))
    finally:
        conn.close()


if __name__ == "__main__":
    solve(sys.argv[1] if len(sys.argv) > 1 else None)
