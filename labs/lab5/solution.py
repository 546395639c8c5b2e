"""lab5's reference solution through the libvirt Python API: what `virsh pool-define-as`,
`pool-build`, `pool-start` and `vol-create-as` (with `--backing-vol` for the LVM snapshot) do.

The spare disks come from $LAB_DISKS (`lab hosts env` prints it on VM hosts), else
/dev/vdb /dev/vdc /dev/vdd. Each step tolerates its own earlier result, so solving twice in a
row leaves the same, correct state:

    python -m labs.lab5.solution [URI]      # default $LIBVIRT_DEFAULT_URI
"""
from __future__ import annotations

import os
import sys

import libvirt

from grader.provision import pool_xml

from .disks import partition_name, spare_disks
from .names import (DATA, DATA_CAPACITY, DISK, MiB, SNAP, SNAP_COW, VG, VG_NAME, ZFS,
                    ZPOOL, ZVOL, ZVOL_CAPACITY)


def disk_pool_xml(device: str) -> str:
    """A whole disk with a GPT partition table; its volumes are partitions (/dev/vdb1...)."""
    return pool_xml(DISK, "disk", "/dev", {"devices": [device], "format": "gpt"})


def logical_pool_xml(device: str) -> str:
    """The LVM volume group lab5-vg on one disk; its volumes are logical volumes."""
    return pool_xml(VG, "logical", f"/dev/{VG_NAME}", {"devices": [device], "name": VG_NAME, "format": "lvm2"})


def zfs_pool_xml(device: str) -> str:
    """The zpool lab5-zfs on one disk; its volumes are zvols (/dev/zvol/lab5-zfs/...)."""
    return pool_xml(ZFS, "zfs", None, {"name": ZPOOL, "devices": [device]})


def volume_xml(name: str, capacity: int, backing: str | None = None) -> str:
    """A volume; with a backing path in a logical pool, an LVM snapshot whose copy-on-write
    space is `capacity` (libvirt runs `lvcreate -s -L CAPACITY BACKING`)."""
    store = f"<backingStore><path>{backing}</path></backingStore>" if backing else ""
    return (f"<volume><name>{name}</name><capacity unit='bytes'>{capacity}</capacity>"
            f"<allocation unit='bytes'>{capacity}</allocation>{store}</volume>")


def ensure_pool(conn, name: str, xml: str):
    """Define (once), build (once: a blank disk) and start a pool."""
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        pool = conn.storagePoolDefineXML(xml, 0)
        pool.build(0)
    if not pool.isActive():
        pool.create(0)
    return pool


def ensure_volume(pool, name: str, xml: str):
    if name not in pool.listVolumes():
        pool.createXML(xml, 0)
    return pool.storageVolLookupByName(name)


def solve(uri: str | None = None, env=os.environ) -> None:
    first, second, third = spare_disks(None, env)
    conn = libvirt.open(uri)
    try:
        disk = ensure_pool(conn, DISK, disk_pool_xml(first))
        ensure_volume(disk, partition_name(first, 1),
                      volume_xml(partition_name(first, 1), 100 * MiB))
        vg = ensure_pool(conn, VG, logical_pool_xml(second))
        data = ensure_volume(vg, DATA, volume_xml(DATA, DATA_CAPACITY))
        ensure_volume(vg, SNAP, volume_xml(SNAP, SNAP_COW, backing=data.path()))
        zfs = ensure_pool(conn, ZFS, zfs_pool_xml(third))
        ensure_volume(zfs, ZVOL, volume_xml(ZVOL, ZVOL_CAPACITY))
    finally:
        conn.close()


if __name__ == "__main__":
    solve(sys.argv[1] if len(sys.argv) > 1 else None)
