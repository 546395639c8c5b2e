"""Pools and volumes of a lab's starting state: define, build and start, find, remove, forget."""
from __future__ import annotations

import time

import libvirt

from grader.core.xmlmodel import PoolXml
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
