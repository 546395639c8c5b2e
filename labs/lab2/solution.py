"""lab2's reference solution through the libvirt Python API: what `virsh vol-create-as` and
`vol-create-from` do. libvirt runs qemu-img on the host itself, so this works the same on a
remote host and inside a lab host's private /var/lib/libvirt.

Each step tolerates its own earlier result, so solving twice in a row leaves the same state:

    python -m labs.lab2.solution [URI]      # default $LIBVIRT_DEFAULT_URI
"""
from __future__ import annotations

import sys

import libvirt

from .names import (CONVERTED, HUGE, OVERLAY, POOL, RAW, RAW_CAPACITY, THIN,
                    THIN_CAPACITY)


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
        raw = ensure_volume(pool, RAW, volume_xml(RAW, "raw", RAW_CAPACITY, RAW_CAPACITY))
        thin = ensure_volume(pool, THIN, volume_xml(THIN, "qcow2", THIN_CAPACITY))
        ensure_volume(pool, CONVERTED, volume_xml(CONVERTED, "qcow2", raw.info()[1]), source=raw)
        ensure_volume(pool, OVERLAY, volume_xml(OVERLAY, "qcow2", THIN_CAPACITY, backing=thin.path()))
        pool_capacity = pool.info()[1]
        ensure_volume(pool, HUGE, volume_xml(HUGE, "qcow2", 2 * pool_capacity))
    finally:
        conn.close()


if __name__ == "__main__":
    solve(sys.argv[1] if len(sys.argv) > 1 else None)
