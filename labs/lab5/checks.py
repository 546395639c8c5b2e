"""lab5 checks: a partitioned disk, an LVM volume group with a logical volume and its snapshot,
and a ZFS pool with a zvol.

Each check reads what libvirt reports: the pool's type, its source (device, partition-table
format, volume-group or zpool name), its state, and the volumes it lists with their capacity,
allocation and backing store. An LVM snapshot made through libvirt is a volume of the logical
pool whose backing store is its origin, and whose allocation is the copy-on-write space LVM
reserved for it (its capacity is the origin's size). Every condition the curriculum lists is
required (lab5 gives no partial credit); feedback names the condition missed and the device the
pool is on (the grader cannot know the host's LAB_DISKS: labs/lab5/disks.py).
"""
from __future__ import annotations

from grader.core.checks import check, fail, passed, size
from grader.core.evidence import Evidence, PoolEvidence

from .disks import is_system_disk
from .names import DATA, DATA_CAPACITY, DISK, SNAP, VG, VG_NAME, ZFS, ZVOL


def _pool(ev: Evidence, name: str, kind: str, missing: str, wrong_type: str) -> PoolEvidence:
    """The persistent pool `name` of type `kind`, on no system disk; fails the check otherwise."""
    pool = ev.host().pool(name)
    if pool is None:
        fail(missing)
    if not pool.persistent:
        fail("pool-transient", pool=name)
    if pool.view.type != kind:
        fail(wrong_type, type=pool.view.type)
    for device in pool.view.source_devices:
        if is_system_disk(device):
            fail("pool-system-disk", pool=name, device=device)
    return pool


def _devices(pool: PoolEvidence) -> str:
    return ", ".join(pool.view.source_devices) or "?"


@check("pool-disk")
def pool_disk(ev: Evidence):
    pool = _pool(ev, DISK, "disk", "disk-missing", "disk-wrong-type")
    view = pool.view
    if not view.source_device:
        fail("disk-no-device")
    if view.source_format != "gpt":
        fail("disk-wrong-format", format=view.source_format or "none", device=view.source_device)
    if not pool.active:
        fail("disk-inactive", device=view.source_device)
    if not pool.volumes:
        fail("disk-no-partition", device=view.source_device)
    parts = sorted(pool.volumes)
    return passed("disk-ok", device=view.source_device, partitions=", ".join(parts),
                  path=pool.volumes[parts[0]].view.path or "?")


@check("pool-logical")
def pool_logical(ev: Evidence):
    pool = _pool(ev, VG, "logical", "vg-missing", "vg-wrong-type")
    view = pool.view
    if view.source_name != VG_NAME:
        fail("vg-wrong-name", name=view.source_name or "none")
    if not pool.active:
        fail("vg-inactive", device=_devices(pool))
    data = pool.volumes.get(DATA)
    if data is None:
        fail("data-missing", volumes=", ".join(sorted(pool.volumes)) or "none")
    if data.view.capacity != DATA_CAPACITY:
        fail("data-wrong-capacity", capacity=size(data.view.capacity))
    return passed("vg-ok", device=_devices(pool), path=data.view.path or "?",
                  free=size(view.available))


@check("snap-lvm")
def snap_lvm(ev: Evidence):
    pool = ev.host().pool(VG)
    if pool is None or pool.view.type != "logical" or not pool.active:
        fail("snap-no-pool")
    snap = pool.volumes.get(SNAP)
    if snap is None:
        fail("snap-missing")
    view = snap.view
    if not view.backing_path:
        fail("snap-no-backing", capacity=size(view.capacity))
    data = pool.volumes.get(DATA)
    origin = data.view.path if data is not None else f"{pool.view.target_path}/{DATA}"
    if view.backing_path != origin:
        fail("snap-wrong-origin", backing=view.backing_path, origin=origin)
    if (view.allocation or 0) >= (view.capacity or 0):
        fail("snap-full-size", allocation=size(view.allocation), capacity=size(view.capacity))
    return passed("snap-ok", allocation=size(view.allocation), capacity=size(view.capacity),
                  origin=origin)


@check("pool-zfs")
def pool_zfs(ev: Evidence):
    pool = _pool(ev, ZFS, "zfs", "zfs-missing", "zfs-wrong-type")
    view = pool.view
    if not pool.active:
        fail("zfs-inactive", zpool=view.source_name or "?")
    vol = pool.volumes.get(ZVOL)
    if vol is None:
        fail("zvol-missing", zpool=view.source_name or "?",
             volumes=", ".join(sorted(pool.volumes)) or "none")
    return passed("zfs-ok", zpool=view.source_name or "?", device=_devices(pool),
                  path=vol.view.path or "?", capacity=size(vol.view.capacity))
