"""Block devices through libvirt's storage backends: what a disk holds, which volume groups sit on
which disks, making a disk blank again. For labs on spare disks (lab5); the policy of which disks
may be erased is the lab's.

Everything goes through the libvirt API (hosts are remote), so libvirt's backends do the looking
and the erasing, with pools a lab makes for a moment under a name of its own (`helper`):

* what a disk holds: a transient `disk` pool started on it without building it. libvirt probes
  the device with blkid first: a blank device is "unrecognized, requires build", a partition
  table of the pool's format starts (and lists its partitions), anything else (a file system, an
  LVM or ZFS label, another table) "does not match the expected format"; a disk another pool
  uses is a "storage source conflict". Nothing is written.
* which volume groups are on which disks: findStoragePoolSources('logical') (vgscan, pvs).
* erasing a partition table: its partitions deleted through a disk pool (a busy one refuses:
  parted will not remove a partition in use), then two builds with OVERWRITE: a `disk` pool's
  (libvirt zeroes the first MiB and parted's mklabel also clears the last sectors, where GPT
  keeps its backup table) and a `logical` pool's (zeroes the first MiB again, pvcreate,
  vgcreate), whose deletion (vgremove, pvremove) leaves the disk blank.
"""
from __future__ import annotations

from dataclasses import dataclass

import libvirt

from grader.core.xmlmodel import parse
from grader.errors import UsageError, one_line
from grader.provision.pools import delete_volumes, pool_xml

MiB = 2**20


def missing_types(conn, types: tuple[str, ...]) -> list[str]:
    """Which of these pool types this host's libvirt cannot run (none known before libvirt 5.2,
    which cannot say: then the pools' own errors tell)."""
    try:
        caps = parse(conn.getStoragePoolCapabilities(0))
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
            return []
        raise
    supported = set(caps.xpath("pool[@supported='yes']/@type"))
    return [t for t in types if t not in supported]


def disk_pool_xml(name: str, disk: str, fmt: str) -> str:
    return pool_xml(name, "disk", "/dev", {"devices": [disk], "format": fmt})


def logical_pool_xml(name: str, *disks: str, vg: str | None = None) -> str:
    vg = vg or name
    return pool_xml(name, "logical", f"/dev/{vg}", {"devices": list(disks), "name": vg, "format": "lvm2"})


def zfs_pool_xml(name: str, zpool: str, *disks: str) -> str:
    return pool_xml(name, "zfs", None, {"name": zpool, "devices": list(disks)})


@dataclass(frozen=True)
class Contents:
    kind: str                          # blank | gpt | dos | missing | pool | other
    partitions: tuple[str, ...] = ()
    detail: str = ""


def probe(conn, disk: str, helper: str) -> Contents:
    """What libvirt finds on `disk`, from a transient disk pool started without building it."""
    found, pool = _table(conn, disk, helper)
    if pool is not None:
        pool.destroy()
    return found


def _table(conn, disk: str, helper: str):
    """probe's answer, and the transient disk pool it started on a partition table (or None),
    still active: the caller destroys it."""
    for fmt in ("gpt", "dos"):
        try:
            pool = conn.storagePoolCreateXML(disk_pool_xml(helper, disk, fmt), 0)
        except libvirt.libvirtError as err:
            text = str(err)
            if "doesn't exist" in text or "does not exist" in text:
                return Contents("missing"), None
            if "nrecognized" in text:      # blkid: no file system, no partition table
                return Contents("blank"), None
            if "conflict" in text.lower():
                return Contents("pool", detail=_quoted(text)), None
            if "does not match" in text:
                continue
            return Contents("other", detail=one_line(err, 160)), None
        try:
            return Contents(fmt, tuple(sorted(v.name() for v in pool.listAllVolumes(0)))), pool
        except BaseException:
            pool.destroy()
            raise
    return Contents("other"), None


def volume_groups(conn) -> dict[str, tuple[str, ...]]:
    """Each LVM volume group of the host and its physical volumes."""
    try:
        xml = conn.findStoragePoolSources("logical", None, 0)
    except libvirt.libvirtError:
        return {}
    return {source.findtext("name") or "": tuple(source.xpath("device/@path"))
            for source in parse(xml).xpath("source")}


def makes_logical_volume(conn, disk: str, helper: str) -> str | None:
    """Make (and remove) a small logical volume on a blank disk: None when it worked, else
    libvirt's reason in one line (LVM needs device-mapper)."""
    pool = conn.storagePoolDefineXML(logical_pool_xml(helper, disk), 0)
    try:
        pool.build(0)
        pool.create(0)
        pool.createXML(f"<volume><name>{helper}</name><capacity>{4 * MiB}</capacity></volume>", 0).delete(0)
        return None
    except libvirt.libvirtError as err:
        return one_line(err, 160)
    finally:
        delete_logical(pool)


def remove_volume_group(conn, name: str, pvs: tuple[str, ...], helper: str) -> None:
    """A volume group left without its pool, with its logical volumes and its disks' labels."""
    pool = conn.storagePoolDefineXML(logical_pool_xml(helper, *pvs, vg=name), 0)
    try:
        pool.create(0)
        delete_volumes(pool, refresh=False)
        pool.destroy()
    except libvirt.libvirtError:
        pass
    delete_logical(pool)


def destroy_zpool(conn, zpool: str, helper: str) -> bool:
    """Destroy the zpool if it is there without its pool (True when it was)."""
    try:
        pool = conn.storagePoolDefineXML(zfs_pool_xml(helper, zpool), 0)
    except libvirt.libvirtError:
        return False                   # another pool of the host names that zpool: not ours
    try:
        pool.delete(0)                 # zpool destroy
        return True
    except libvirt.libvirtError:
        return False                   # no such zpool
    finally:
        pool.undefine()


def reclaim_destroyed_zpool(conn, disk: str, helper: str) -> bool:
    """A disk left by a destroyed zpool (`virsh pool-delete` of a zfs pool: `zpool destroy`
    keeps ZFS's partitions and labels) made free for erasing, if ZFS itself counts it free.

    ZFS decides: the helper's build is `zpool create` without -f, which takes a destroyed
    pool's disk and refuses one of an active or exported pool (someone's data to import) or one
    holding a file system. Then `zpool destroy` again; erase_table does the rest. True when
    the disk was taken."""
    try:
        pool = conn.storagePoolDefineXML(zfs_pool_xml(helper, helper, disk), 0)
    except libvirt.libvirtError:
        return False
    try:
        pool.build(0)                  # zpool create HELPER DISK, never forced
    except libvirt.libvirtError:
        pool.undefine()
        return False
    try:
        pool.delete(0)                 # zpool destroy
    finally:
        pool.undefine()
    return True


def erase_table(conn, disk: str, found: Contents, helper: str, pool=None) -> None:
    """Make a disk that holds a partition table blank again (see the module's docstring). Only
    a partition table is erased, once each partition on it was deleted; anything else stays.
    `pool`: the disk pool a probe already started on it (used, then destroyed)."""
    if found.kind not in ("gpt", "dos"):
        return
    if pool is None:
        pool = conn.storagePoolCreateXML(disk_pool_xml(helper, disk, found.kind), 0)
    try:
        delete_volumes(pool, refresh=False)
    except libvirt.libvirtError as err:
        raise UsageError(f"libvirt could not delete a partition of {disk} on {conn.getURI()} (in use?), "
                         f"so the disk is not erased: {one_line(err, 160)}; if it holds nothing "
                         f"of value, erase it on the host (`wipefs -a {disk}`)") from None
    finally:
        pool.destroy()
    label = conn.storagePoolDefineXML(disk_pool_xml(helper, disk, "dos"), 0)
    try:
        label.build(libvirt.VIR_STORAGE_POOL_BUILD_OVERWRITE)     # first MiB and GPT's backup
    finally:
        label.undefine()
    pool = conn.storagePoolDefineXML(logical_pool_xml(helper, disk), 0)
    try:
        pool.build(libvirt.VIR_STORAGE_POOL_BUILD_OVERWRITE)      # first MiB again, an LVM label
    finally:
        delete_logical(pool)                                      # and no label at all


def erase_own(conn, disk: str, helper: str) -> None:
    """erase_table of whatever is on a disk the caller's own pool was on, through the disk pool
    its probe starts (one start of a disk pool less: seconds under emulation)."""
    found, pool = _table(conn, disk, helper)
    if pool is not None:
        erase_table(conn, disk, found, helper, pool)


def delete_logical(pool) -> None:
    """A logical pool gone with its volume group and its disks' LVM labels."""
    try:
        if pool.isActive():
            pool.destroy()
        pool.delete(0)                 # vgremove, pvremove
    except libvirt.libvirtError:
        pass
    finally:
        pool.undefine()


def zfs_layout(partitions: tuple[str, ...]) -> bool:
    """ZFS on Linux gives a whole disk a GPT with partition 1 (data) and 9 (reserved)."""
    return len(partitions) == 2 and partitions[0].endswith("1") and partitions[1].endswith("9")


def _quoted(text: str) -> str:
    """The first quoted name in a libvirt message ("... conflict with pool 'x'")."""
    parts = text.split("'")
    return f"'{parts[1]}'" if len(parts) > 2 else ""
