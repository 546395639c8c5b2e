"""Pools and volumes of a lab's starting state: define, build and start, find, remove, forget."""
from __future__ import annotations

import time

import libvirt

from grader.core.xmlmodel import PoolXml, VolumeXml
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


def define_pool(conn, name: str, type: str, target: str | None, source: dict | None = None,
                build: bool = True, autostart: bool = True):
    """Define, build and start a pool (replacing one of the same name)."""
    remove_pool(conn, name)
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


def remove_pool(conn, name: str, volumes: list[str] | None = None) -> None:
    """Delete a pool and its volumes (only `volumes` when given: for shared pools, which hold
    other people's files too), then undefine it."""
    pool = find_pool(conn, name)
    if pool is None:
        return
    try:
        if not pool.isActive():
            pool.create(0)
        pool.refresh(0)
        for vol in pool.listAllVolumes(0):
            if volumes is None or vol.name() in volumes:
                vol.delete(0)
    except libvirt.libvirtError:
        pass  # an unusable pool is still undefined below
    persistent = pool.isPersistent()  # a transient pool is gone once destroyed
    if pool.isActive():
        local = PoolXml(pool.XMLDesc(0)).type == "dir"
        pool.destroy()
        if local and persistent and volumes is None:
            try:
                pool.delete(0)
            except libvirt.libvirtError:
                pass  # a directory with foreign files stays
    if persistent:
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
    pool = pool_on_source(conn, source)
    if pool is not None and pool.isActive():
        return VolumeXml(ensure_file(pool, name).XMLDesc(0)).ctime
    pool = conn.storagePoolCreateXML(pool_xml(helper, "netfs", f"/var/lib/libvirt/{helper}", source),
                                     libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
    try:
        return VolumeXml(ensure_file(pool, name).XMLDesc(0)).ctime
    finally:
        pool.destroy()


def delete_volumes(pool) -> None:
    """Every volume of an active pool, snapshots (volumes with a backing store) first."""
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
