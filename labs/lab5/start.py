"""lab5's starting state: no lab5 pools, and the three spare disks blank (no partition table,
LVM label or ZFS label).

Only a disk that carries lab5's own objects is ever erased (a lab5 pool on it, the volume group
lab5-vg, the zpool lab5-zfs): their volumes go through their pools, then the pools' own deletion
(vgremove and pvremove, zpool destroy), then the disk's partition table (grader.provision.
blockdevs, which says how libvirt's backends do the looking and the erasing). So is a spare disk
that a destroyed zpool left behind (`virsh pool-delete lab5-zfs` runs `zpool destroy`, which
keeps ZFS's partitions), when ZFS itself takes it back without force: never an exported or
active zpool's disk.

A device that holds anything else is refused with one line and never written: it may be
mounted, in use or the host's own system disk. On a host whose libvirt cannot run disk, logical
and zfs pools (a light lab host shares this machine's kernel, without device-mapper or ZFS), or
whose kernel cannot make a logical volume, `lab start lab5` stops with one line.
"""
from __future__ import annotations

import libvirt

from grader import provision
from grader.core.xmlmodel import PoolXml
from grader.errors import EnvironmentProblem, UsageError
from grader.provision import blockdevs

from .disks import disk_of, spare_disks
from .names import DISK, POOLS, VG, VG_NAME, ZFS, ZPOOL

BLOCK_TYPES = ("disk", "logical", "zfs")
#: The pools (and volume group) `lab start` makes for a moment to look at or erase a disk.
HELPER = "lab5-start"

NEEDS_OWN_KERNEL = ("lab5 needs a host with its own kernel (device-mapper for LVM, ZFS) and three "
                    "spare disks")
WHERE_TO_GET_ONE = ("on this machine start VM hosts with `lab hosts up --vm` (then eval \"$(lab hosts "
                    "env)\"), or use a Linux host with lvm2, zfsutils-linux, parted and libvirt's "
                    "storage drivers for them")


def start(ctx) -> None:
    conn = ctx.conn("A")
    disks = spare_disks(ctx.options.get("disks"), ctx.env)
    require_block_storage(conn)
    for disk in disks:                 # before anything changes: a refused start changes nothing
        refuse_early(conn, disk)
    reset(conn, disks)
    for disk in disks:
        require_blank(conn, disk)
    require_device_mapper(conn, disks[1])


def finish(ctx) -> None:
    conn = ctx.conn("A")
    if blockdevs.missing_types(conn, BLOCK_TYPES):   # nothing of lab5's can be on such a host but pool definitions
        for name in (*POOLS, HELPER):
            if (pool := provision.find_pool(conn, name)) is not None:
                provision.forget_pool(pool)
        return
    reset(conn, spare_disks(ctx.options.get("disks"), ctx.env))


# --- what the host can do ------------------------------------------------------------------------

def require_block_storage(conn) -> None:
    missing = blockdevs.missing_types(conn, BLOCK_TYPES)
    if missing:
        raise EnvironmentProblem(f"{NEEDS_OWN_KERNEL}: {conn.getURI()} offers no {'/'.join(missing)} "
                                 f"pools (a light lab host shares this machine's kernel); {WHERE_TO_GET_ONE}")


def require_device_mapper(conn, disk: str) -> None:
    """LVM needs device-mapper: a small logical volume on a blank spare disk must work."""
    failed = blockdevs.makes_logical_volume(conn, disk, HELPER)
    if failed:
        raise EnvironmentProblem(f"{NEEDS_OWN_KERNEL}: {conn.getURI()} could not make an LVM logical "
                                 f"volume on {disk} ({failed}); {WHERE_TO_GET_ONE}")


def refuse_early(conn, disk: str) -> None:
    """A disk no lab5 object can explain (missing, another pool's, or a file system or label other
    than lab5's volume group) is refused before the reset, which would otherwise forget lab5's
    pools on the disks the previous start was given (`--disks` naming the system disk by mistake)."""
    found = blockdevs.probe(conn, disk, HELPER)
    if found.kind == "pool":
        foreign = found.detail.strip("'") not in (*POOLS, HELPER)
    elif found.kind == "other":
        foreign = not any(disk in map(disk_of, pvs) for name, pvs in blockdevs.volume_groups(conn).items()
                          if name in (VG_NAME, HELPER))
    else:
        foreign = found.kind == "missing"
    if foreign:
        require_blank(conn, disk, found)


def require_blank(conn, disk: str, found: blockdevs.Contents | None = None) -> None:
    """Refuse a disk that is not blank, in one line saying why (`found`: what probe saw)."""
    found = found or blockdevs.probe(conn, disk, HELPER)
    if found.kind == "blank":
        return
    uri = conn.getURI()
    keep_out = ("lab5 erases only blank disks and its own: name three spare disks with LAB_DISKS "
                "or `lab start lab5 --disks 'DEV DEV DEV'`")
    if found.kind == "missing":
        raise UsageError(f"{disk} is not a block device of {uri}: {NEEDS_OWN_KERNEL} "
                         f"(LAB_DISKS, or --disks); {WHERE_TO_GET_ONE}")
    if found.kind == "pool":
        raise UsageError(f"{disk} is in use by pool {found.detail or '?'} on {uri}: {keep_out}")
    erase = f"or, if it holds nothing of value, erase it on the host (`wipefs -a {disk}`)"
    groups = [name for name, pvs in blockdevs.volume_groups(conn).items() if disk in map(disk_of, pvs)]
    if groups:
        raise UsageError(f"{disk} is a physical volume of LVM volume group {groups[0]!r} on {uri}, "
                         f"so it is in use: {keep_out}")
    if found.kind in ("gpt", "dos"):
        parts = ", ".join(found.partitions) or "no partitions"
        raise UsageError(f"{disk} holds a {found.kind} partition table ({parts}) that no lab5 pool "
                         f"explains: it may be in use, mounted or the system's own disk; {keep_out}, {erase}")
    raise UsageError(f"{disk} holds data lab5 did not put there (a file system, an LVM or ZFS label: "
                     f"mounted, in use or the system's own disk?); {keep_out}, {erase}")


# --- removing lab5's objects ---------------------------------------------------------------------

def reset(conn, disks: tuple[str, ...]) -> None:
    """Remove lab5's pools, its volume group and zpool, and erase the spare disks they were on."""
    if (helper := provision.find_pool(conn, HELPER)) is not None:
        provision.forget_pool(helper)  # left by an interrupted `lab start`
    spare = set(disks)
    owned: set[str] = set()
    for name in (VG, ZFS, DISK):       # the volume group may sit on a partition of lab5-disk
        if (pool := provision.find_pool(conn, name)) is not None:
            owned |= remove_pool(conn, pool, spare)
    owned |= remove_volume_groups(conn, spare)
    zpool_gone = blockdevs.destroy_zpool(conn, ZPOOL, HELPER)
    for disk in disks:
        if disk in owned:              # a lab5 pool was on it
            blockdevs.erase_own(conn, disk, HELPER)
            continue
        # a disk that ZFS's layout alone explains, once ZFS counts it free (a zpool destroyed
        # here or by the student, not someone's to import)
        found = blockdevs.probe(conn, disk, HELPER)
        if blockdevs.zfs_layout(found.partitions) and (
                zpool_gone or blockdevs.reclaim_destroyed_zpool(conn, disk, HELPER)):
            blockdevs.erase_table(conn, disk, found, HELPER)


def remove_pool(conn, pool, spare: set[str]) -> set[str]:
    """Remove a lab5 pool; its storage too when every device it names is a spare disk.
    Returns the spare disks it was on (to erase)."""
    view = PoolXml(pool.XMLDesc(0))
    on = {disk_of(d) for d in view.source_devices}
    by_name = view.type == "zfs" and not on and view.source_name == ZPOOL
    if view.type not in BLOCK_TYPES or not (on and on <= spare or by_name):
        provision.forget_pool(pool)
        return set()
    if not pool.isPersistent():        # made with pool-create: define it, so it can be deleted
        pool = conn.storagePoolDefineXML(pool.XMLDesc(0), 0)
    if not pool.isActive():
        try:
            pool.create(0)
        except libvirt.libvirtError:
            pass                       # nothing left to start (a blank disk, a removed group)
    if pool.isActive():
        if view.type != "zfs":         # zpool destroy takes the zvols and their snapshots along
            provision.delete_volumes(pool)
        pool.destroy()
    if view.type in ("logical", "zfs"):
        try:
            pool.delete(0)             # vgremove and pvremove / zpool destroy
        except libvirt.libvirtError:
            pass                       # already gone; what is left is looked at below
    pool.undefine()
    return on


def remove_volume_groups(conn, spare: set[str]) -> set[str]:
    """lab5-vg (and the helper's group) left on spare disks without their pool."""
    owned = set()
    for name, pvs in blockdevs.volume_groups(conn).items():
        on = {disk_of(pv) for pv in pvs}
        if name in (VG_NAME, HELPER) and on and on <= spare:
            blockdevs.remove_volume_group(conn, name, pvs, HELPER)
            owned |= on
    return owned
