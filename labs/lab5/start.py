"""lab5's starting state: no lab5 pools, and the three spare disks blank (no partition table,
LVM label or ZFS label).

Everything goes through the libvirt API (hosts are remote), so libvirt's storage backends do the
looking and the erasing:

* what a disk holds: a transient `disk` pool started on it without building it. libvirt probes
  the device with blkid first: a blank device is "unrecognized, requires build", a partition
  table of the pool's format starts (and lists its partitions), anything else (a file system, an
  LVM or ZFS label, another table) "does not match the expected format"; a disk another pool
  uses is a "storage source conflict". Nothing is written.
* which volume groups are on which disks: findStoragePoolSources('logical') (vgscan, pvs).
* erasing a disk: only one that carries lab5's own objects (a lab5 pool on it, the volume
  group lab5-vg, the zpool lab5-zfs). Their volumes go through their pools (a busy one refuses:
  parted will not remove a partition in use), then the pools' own deletion (vgremove and
  pvremove, zpool destroy), then two builds with OVERWRITE: a `disk` pool's (libvirt zeroes the
  first MiB and parted's mklabel also clears the last sectors, where GPT keeps its backup
  table) and a `logical` pool's (zeroes the first MiB again, pvcreate, vgcreate), whose
  deletion (vgremove, pvremove) leaves the disk blank.

A device that holds anything else is refused with one line and never written: it may be
mounted, in use or the host's own system disk. On a host whose libvirt cannot run disk, logical
and zfs pools (a light lab host shares this machine's kernel, without device-mapper or ZFS), or
whose kernel cannot make a logical volume, `lab start lab5` stops with one line.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import libvirt

from grader import provision
from grader.core.xmlmodel import PoolXml, parse
from grader.errors import EnvironmentProblem, UsageError, one_line
from labs.lab5.disks import disk_of, spare_disks
from labs.lab5.names import DISK, POOLS, VG, VG_NAME, ZFS, ZPOOL

BLOCK_TYPES = ("disk", "logical", "zfs")
#: The pools (and volume group) `lab start` makes for a moment to look at or erase a disk.
HELPER = "lab5-start"
MiB = 2**20

NEEDS_OWN_KERNEL = ("lab5 needs a host with its own kernel (device-mapper for LVM, ZFS) and three "
                    "spare disks")
WHERE_TO_GET_ONE = ("on this machine start VM hosts with `lab hosts up --vm` (then eval \"$(lab hosts "
                    "env)\"), or use a Linux host with lvm2, zfsutils-linux, parted and libvirt's "
                    "storage drivers for them")


def start(ctx) -> None:
    conn = ctx.conn("A")
    disks = spare_disks(ctx.options.get("disks"), ctx.env)
    require_block_storage(conn)
    reset(conn, disks)
    for disk in disks:
        require_blank(conn, disk)
    require_device_mapper(conn, disks[1])


def finish(ctx) -> None:
    conn = ctx.conn("A")
    if missing_types(conn):   # nothing of lab5's can be on such a host but pool definitions
        for name in (*POOLS, HELPER):
            if (pool := provision.find_pool(conn, name)) is not None:
                forget_pool(pool)
        return
    reset(conn, spare_disks(ctx.options.get("disks"), ctx.env))


# --- what the host can do ------------------------------------------------------------------------

def missing_types(conn) -> list[str]:
    """The block pool types this host's libvirt cannot run (none known before libvirt 5.2,
    which cannot say: then the pools' own errors tell)."""
    try:
        caps = parse(conn.getStoragePoolCapabilities(0))
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
            return []
        raise
    supported = set(caps.xpath("pool[@supported='yes']/@type"))
    return [t for t in BLOCK_TYPES if t not in supported]


def require_block_storage(conn) -> None:
    missing = missing_types(conn)
    if missing:
        raise EnvironmentProblem(f"{NEEDS_OWN_KERNEL}: {conn.getURI()} offers no {'/'.join(missing)} "
                                 f"pools (a light lab host shares this machine's kernel); {WHERE_TO_GET_ONE}")


def require_device_mapper(conn, disk: str) -> None:
    """Make (and remove) a small logical volume on a blank spare disk: LVM needs device-mapper."""
    pool = conn.storagePoolDefineXML(_logical_xml(HELPER, disk), 0)
    try:
        pool.build(0)
        pool.create(0)
        pool.createXML(f"<volume><name>{HELPER}</name><capacity>{4 * MiB}</capacity></volume>", 0).delete(0)
    except libvirt.libvirtError as err:
        raise EnvironmentProblem(f"{NEEDS_OWN_KERNEL}: {conn.getURI()} could not make an LVM logical "
                                 f"volume on {disk} ({one_line(err, 160)}); {WHERE_TO_GET_ONE}") from None
    finally:
        _delete_helper(pool)


# --- what a disk holds (nothing is written) -----------------------------------------------------

@dataclass(frozen=True)
class Contents:
    kind: str                          # blank | gpt | dos | missing | pool | other
    partitions: tuple[str, ...] = ()
    detail: str = ""


def probe(conn, disk: str) -> Contents:
    """What libvirt finds on `disk`, from a transient disk pool started without building it."""
    for fmt in ("gpt", "dos"):
        try:
            pool = conn.storagePoolCreateXML(_disk_xml(HELPER, disk, fmt), 0)
        except libvirt.libvirtError as err:
            text = str(err)
            if "doesn't exist" in text or "does not exist" in text:
                return Contents("missing")
            if "nrecognized" in text:      # blkid: no file system, no partition table
                return Contents("blank")
            if "conflict" in text.lower():
                return Contents("pool", detail=_quoted(text))
            if "does not match" in text:
                continue
            return Contents("other", detail=one_line(err, 160))
        try:
            return Contents(fmt, tuple(sorted(v.name() for v in pool.listAllVolumes(0))))
        finally:
            pool.destroy()
    return Contents("other")


def volume_groups(conn) -> dict[str, tuple[str, ...]]:
    """Each LVM volume group of the host and its physical volumes."""
    try:
        xml = conn.findStoragePoolSources("logical", None, 0)
    except libvirt.libvirtError:
        return {}
    return {source.findtext("name") or "": tuple(source.xpath("device/@path"))
            for source in parse(xml).xpath("source")}


def require_blank(conn, disk: str) -> None:
    found = probe(conn, disk)
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
    groups = [name for name, pvs in volume_groups(conn).items() if disk in map(disk_of, pvs)]
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
        forget_pool(helper)            # left by an interrupted `lab start`
    spare = set(disks)
    owned: set[str] = set()
    for name in (VG, ZFS, DISK):       # the volume group may sit on a partition of lab5-disk
        if (pool := provision.find_pool(conn, name)) is not None:
            owned |= remove_pool(conn, pool, spare)
    owned |= remove_volume_groups(conn, spare)
    zpool_gone = destroy_zpool(conn)
    for disk in disks:
        found = probe(conn, disk)
        left_by_zfs = zpool_gone and _zfs_layout(found.partitions)
        if found.kind != "blank" and (disk in owned or left_by_zfs):
            erase(conn, disk, found)


def remove_pool(conn, pool, spare: set[str]) -> set[str]:
    """Remove a lab5 pool; its storage too when every device it names is a spare disk.
    Returns the spare disks it was on (to erase)."""
    view = PoolXml(pool.XMLDesc(0))
    on = {disk_of(d) for d in view.source_devices}
    by_name = view.type == "zfs" and not on and view.source_name == ZPOOL
    if view.type not in BLOCK_TYPES or not (on and on <= spare or by_name):
        forget_pool(pool)
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
            _delete_volumes(pool)
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
    for name, pvs in volume_groups(conn).items():
        on = {disk_of(pv) for pv in pvs}
        if name in (VG_NAME, HELPER) and on and on <= spare:
            pool = conn.storagePoolDefineXML(_logical_xml(HELPER, *pvs, vg=name), 0)
            try:
                pool.create(0)
                _delete_volumes(pool)
                pool.destroy()
            except libvirt.libvirtError:
                pass
            _delete_helper(pool)
            owned |= on
    return owned


def destroy_zpool(conn) -> bool:
    """Destroy the zpool lab5-zfs if it is there without its pool (True when it was)."""
    try:
        pool = conn.storagePoolDefineXML(f"<pool type='zfs'><name>{HELPER}</name><source>"
                                         f"<name>{ZPOOL}</name></source></pool>", 0)
    except libvirt.libvirtError:
        return False                   # another pool of the host names that zpool: not ours
    try:
        pool.delete(0)                 # zpool destroy lab5-zfs
        return True
    except libvirt.libvirtError:
        return False                   # no such zpool
    finally:
        pool.undefine()


def erase(conn, disk: str, found: Contents) -> None:
    """Make a spare disk that carried lab5's objects blank again (see the module's docstring).
    Only a partition table is erased, once each partition on it was deleted (parted refuses a
    partition in use); anything else stays, and require_blank says what it is."""
    if found.kind not in ("gpt", "dos"):
        return
    pool = conn.storagePoolCreateXML(_disk_xml(HELPER, disk, found.kind), 0)
    try:
        _delete_volumes(pool)
    except libvirt.libvirtError as err:
        raise UsageError(f"libvirt could not delete a partition of {disk} on {conn.getURI()} (in use?), "
                         f"so lab5 does not erase the disk: {one_line(err, 160)}; if it holds nothing "
                         f"of value, erase it on the host (`wipefs -a {disk}`)") from None
    finally:
        pool.destroy()
    label = conn.storagePoolDefineXML(_disk_xml(HELPER, disk, "dos"), 0)
    try:
        label.build(libvirt.VIR_STORAGE_POOL_BUILD_OVERWRITE)     # first MiB and GPT's backup
    finally:
        label.undefine()
    pool = conn.storagePoolDefineXML(_logical_xml(HELPER, disk), 0)
    try:
        pool.build(libvirt.VIR_STORAGE_POOL_BUILD_OVERWRITE)      # first MiB again, an LVM label
    finally:
        _delete_helper(pool)                                      # and no label at all


def forget_pool(pool) -> None:
    """Stop and undefine a pool without touching the storage behind it."""
    try:
        if pool.isActive():
            pool.destroy()
        if pool.isPersistent():
            pool.undefine()
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
            raise


def _delete_volumes(pool) -> None:
    """Every volume of an active pool, snapshots (volumes with a backing store) first."""
    pool.refresh(0)
    volumes = pool.listAllVolumes(0)
    volumes.sort(key=lambda v: "<backingStore>" not in v.XMLDesc(0))
    for vol in volumes:
        _delete_volume(vol)


def _delete_volume(vol, tries: int = 10) -> None:
    """A zvol or LV written a moment ago may be "busy" while udev still reads the new data
    (blkid): try again for a few seconds before giving up."""
    for attempt in range(tries):
        try:
            vol.delete(0)
            return
        except libvirt.libvirtError as err:
            if "busy" not in str(err) or attempt == tries - 1:
                raise
            time.sleep(1)


def _delete_helper(pool) -> None:
    """The helper logical pool and its volume group gone, the disk's LVM label too."""
    try:
        if pool.isActive():
            pool.destroy()
        pool.delete(0)                 # vgremove, pvremove
    except libvirt.libvirtError:
        pass
    finally:
        pool.undefine()


def _disk_xml(name: str, disk: str, fmt: str) -> str:
    return (f"<pool type='disk'><name>{name}</name><source><device path={quoteattr(disk)}/>"
            f"<format type='{fmt}'/></source><target><path>/dev</path></target></pool>")


def _logical_xml(name: str, *disks: str, vg: str | None = None) -> str:
    devices = "".join(f"<device path={quoteattr(d)}/>" for d in disks)
    vg = vg or name
    return (f"<pool type='logical'><name>{name}</name><source>{devices}<name>{escape(vg)}</name>"
            f"<format type='lvm2'/></source><target><path>/dev/{escape(vg)}</path></target></pool>")


def _zfs_layout(partitions: tuple[str, ...]) -> bool:
    """ZFS on Linux gives a whole disk a GPT with partition 1 (data) and 9 (reserved)."""
    return len(partitions) == 2 and partitions[0].endswith("1") and partitions[1].endswith("9")


def _quoted(text: str) -> str:
    """The first quoted name in a libvirt message ("... conflict with pool 'x'")."""
    parts = text.split("'")
    return f"'{parts[1]}'" if len(parts) > 2 else ""
