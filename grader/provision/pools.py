"""Pools and volumes of a lab's starting state: define, build and start, find, remove, forget.

A lab deletes by place, never by name alone: `remove_pool` is told where the lab makes the pool
(a `Place`: its type and target directory, and on a shared export the prefix of the lab's own
volume names). A pool of that name on another directory is refused with one line, before
anything is deleted: a student's `lab2` pointed at the host's image directory keeps its images.
One on the lab's directory but of another type (an export or a device mounted there) is only
stopped and undefined: its storage is not the lab's either.
"""
from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass
from typing import Mapping

import libvirt

from grader.core.text import one_line
from grader.core.xmlmodel import PoolXml, VolumeXml
from grader.errors import UsageError
from grader.templating import render


def lookup(func, name):
    """`func(name)`, or None when libvirt says there is no such object."""
    try:
        return func(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() in (libvirt.VIR_ERR_NO_STORAGE_POOL, libvirt.VIR_ERR_NO_DOMAIN,
                                    libvirt.VIR_ERR_NO_STORAGE_VOL):
            return None
        raise


def find_pool(conn, name: str):
    return lookup(conn.storagePoolLookupByName, name)


def pool_xml(name: str, type: str, target: str | None = None, source: dict | None = None) -> str:
    """A pool's XML (templates/pool.xml.j2). `source` keys: host, port, dir, devices (a list),
    name, format, initiator."""
    return render("pool.xml.j2", name=name, type=type, target=target, source=source or {})


@dataclass(frozen=True)
class Place:
    """Where a lab makes a pool: the only storage `lab start`/`lab finish` may delete through it.

    `own` is None for the lab's own directory (every volume in it, then the directory, go), or
    the prefix of the lab's volume names on a shared export (only those go; the export holds
    other people's files, so the directory stays)."""

    type: str
    path: str | None
    own: str | None = None


def _normal(path: str | None) -> str | None:
    return posixpath.normpath(path) if path else None


def misplaced(conn, pool, place: Place) -> str | None:
    """Why `pool` is not at `place`, its target directory (one printable line), or None."""
    view = PoolXml(pool.XMLDesc(0))
    path = _normal(view.target_path)
    if path == _normal(place.path):
        return None
    name, kind = one_line(pool.name(), 80), one_line(view.type or "?", 20)
    return (f"pool {name} on {conn.getURI()} is a {kind} pool at {one_line(path or 'no target path', 160)}, "
            f"not the {place.type} pool at {place.path} that the lab makes, so nothing was deleted: "
            "if it is yours, keep its files by removing only its definition (`virsh pool-destroy "
            f"{name}; virsh pool-undefine {name}`) or rename it, then run the command again")


def check_places(conn, places: Mapping[str, Place]) -> None:
    """Refuse (UsageError) when a pool of one of these names is on another directory. A lab calls
    it on every host before it removes anything, so a refusal leaves every host as it was."""
    for name, place in places.items():
        pool = find_pool(conn, name)
        if pool is not None and (why := misplaced(conn, pool, place)):
            raise UsageError(why)


def define_pool(conn, name: str, type: str, target: str | None, source: dict | None = None,
                build: bool = True, autostart: bool = True, own: str | None = None):
    """Define, build and start a pool, replacing one of the same name at the same place
    (`remove_pool`; `own` as in Place); one of that name elsewhere is refused."""
    remove_pool(conn, name, Place(type, target, own))
    pool = conn.storagePoolDefineXML(pool_xml(name, type, target, source), 0)
    if build:
        try:
            pool.build(0)
        except libvirt.libvirtError as err:
            if err.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                raise
    pool.create(0)
    pool.setAutostart(1 if autostart else 0)
    return pool


def remove_pool(conn, name: str, place: Place) -> None:
    """Delete the pool the lab made at `place` with its volumes (only the lab's own, on a shared
    export) and its directory, then undefine it; a transient one is defined first, so its
    directory goes too. A pool of that name on another directory is refused (UsageError) before
    anything changes; one of another type on the lab's directory is only stopped and undefined."""
    pool = find_pool(conn, name)
    if pool is None:
        return
    why = misplaced(conn, pool, place)
    if why:
        raise UsageError(why)
    if PoolXml(pool.XMLDesc(0)).type != place.type:
        forget_pool(pool)
        return
    if not pool.isPersistent():    # made with pool-create: define it, so its directory can go
        pool = conn.storagePoolDefineXML(pool.XMLDesc(0), 0)
    try:
        if not pool.isActive():
            pool.create(0)
        pool.refresh(0)
        for vol in pool.listAllVolumes(0):
            if place.own is None or vol.name().startswith(place.own):
                vol.delete(0)
    except libvirt.libvirtError:
        pass  # an unusable pool is still undefined below
    if pool.isActive():
        pool.destroy()
        if place.own is None:
            try:
                pool.delete(0)
            except libvirt.libvirtError:
                pass  # a directory that still holds files (the pool did not list them) stays
    pool.undefine()


def forget_pool(pool) -> None:
    """Stop and undefine a pool without touching the storage behind it."""
    try:
        if pool.isActive():
            pool.destroy()
        if pool.isPersistent():
            pool.undefine()
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:  # a transient pool is gone
            raise


def create_volume(pool, name: str, format: str, capacity: int, allocation: int = 0,
                  backing: dict | None = None):
    xml = render("volume.xml.j2", name=name, format=format, capacity=capacity,
                 allocation=allocation, backing=backing)
    return pool.createXML(xml, 0)


def create_volume_with_data(pool, name: str, format: str, capacity: int, data: bytes,
                            offset: int):
    """A volume whose guest sees `data` at `offset` and zeros elsewhere, made by libvirt alone (so
    it works on a remote host): a raw seed volume is uploaded, copied into the volume's format
    (libvirt runs qemu-img convert), grown to `capacity`, and removed."""
    conn = pool.connect()
    seed_name = f".{name}.seed"
    if (old := lookup(pool.storageVolLookupByName, seed_name)) is not None:
        old.delete(0)
    seed = create_volume(pool, seed_name, "raw", offset + len(data))
    try:
        stream = conn.newStream(0)
        seed.upload(stream, offset, len(data), 0)
        sent = 0
        while sent < len(data):
            sent += stream.send(data[sent:sent + 256 * 1024])
        stream.finish()
        xml = render("volume.xml.j2", name=name, format=format, capacity=offset + len(data),
                     allocation=0, backing=None)
        vol = pool.createXMLFrom(xml, seed, 0)
    finally:
        seed.delete(0)
    if vol.info()[1] < capacity:
        vol.resize(capacity, 0)
    return vol


def ensure_file(pool, name: str):
    """A small file `name` in the pool, made (empty, raw) only if the pool does not list it:
    never touched once it is there (what it is for is its ctime)."""
    pool.refresh(0)
    vol = lookup(pool.storageVolLookupByName, name)
    return vol if vol is not None else create_volume(pool, name, "raw", 0)


def pool_on_source(conn, source: dict, skip: str | None = None):
    """The pool of this host (but `skip`) on a netfs export's host and directory, if any:
    libvirt allows one pool per source."""
    for pool in conn.listAllStoragePools(0):
        view = PoolXml(pool.XMLDesc(0))
        if (pool.name() != skip and view.type == "netfs" and view.source_host == source.get("host")
                and (view.source_dir or "").rstrip("/") == source.get("dir", "").rstrip("/")):
            return pool
    return None


def file_on_share(conn, source: dict, name: str, helper: str = "kvm-storage-lab-share") -> str:
    """The ctime of the file `name` at the top of a netfs export, made (empty) if missing,
    through this host's pool on the export if one is active, else a transient one of its own."""
    return _file_ctime(conn, pool_on_source(conn, source), name,
                       pool_xml(helper, "netfs", f"/var/lib/libvirt/{helper}", source),
                       libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD)


def file_in_directory(conn, path: str, name: str, helper: str = "kvm-storage-lab-share") -> str:
    """Like file_on_share, on the host that serves the export, in the directory it exports: the
    same file (and ctime) without mounting the export, through a transient directory pool that
    is not built (building would set the directory's mode). A pool already active on that
    directory is used instead: libvirt allows one."""
    active = [pool for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)
              if _normal(PoolXml(pool.XMLDesc(0)).target_path) == _normal(path)]
    return _file_ctime(conn, active[0] if active else None, name, pool_xml(helper, "dir", path), 0)


def _file_ctime(conn, pool, name: str, transient_xml: str, flags: int) -> str:
    """The ctime of the file `name` in `pool` if it is active, else in a transient pool made
    from `transient_xml` (with `flags`) and destroyed afterwards; the file made if missing."""
    transient = pool is None or not pool.isActive()
    if transient:
        pool = conn.storagePoolCreateXML(transient_xml, flags)
    try:
        return VolumeXml(ensure_file(pool, name).XMLDesc(0)).ctime
    finally:
        if transient:
            pool.destroy()


def delete_volumes(pool, refresh: bool = True) -> None:
    """Every volume of an active pool, snapshots (volumes with a backing store) first. A pool
    started a moment ago was scanned by its start: `refresh=False` saves a second scan (seconds
    for a disk or logical pool under emulation)."""
    if refresh:
        pool.refresh(0)
    volumes = pool.listAllVolumes(0)
    volumes.sort(key=lambda v: "<backingStore>" not in v.XMLDesc(0))
    for vol in volumes:
        delete_volume(vol)


def delete_volume(vol, tries: int = 10) -> None:
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
