"""Domains, shared pools and live migration on real lab hosts (light or VM), for the live tests.

Everything is registered with the `cleanup` fixture; shared pools that already exist on a host
(a lab may have defined one on the same source) are reused, not removed.
"""
from __future__ import annotations

import time

import libvirt
from lxml import etree

from grader.labhosts.kvm import domain_type

MIGRATE_FLAGS = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PERSIST_DEST
                 | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)


def domain_xml(conn, name: str, disk: str) -> str:
    """64 MiB, one vCPU, no OS: it sits in the firmware, which is enough to run and migrate."""
    return f"""<domain type='{domain_type(conn)}'>
  <name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>{disk}</devices>
</domain>"""


def file_disk(path: str, fmt: str = "qcow2") -> str:
    return (f"<disk type='file' device='disk'><driver name='qemu' type='{fmt}'/>"
            f"<source file='{path}'/><target dev='vda' bus='virtio'/></disk>")


def start_domain(conn, xml: str, cleanup):
    dom = conn.defineXML(xml)
    name = dom.name()
    cleanup(lambda: remove_domain(conn, name))
    dom.create()
    return dom


def remove_domain(conn, name: str) -> None:
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    if dom.isActive():
        dom.destroy()
    if dom.isPersistent():
        dom.undefine()


def shared_pool(conn, xml: str, cleanup):
    """The host's active pool on this source: an existing one, else `xml` defined by us.

    libvirt allows one pool per storage source on a host, and a lab (or a concurrent test run)
    may already have one on the shared storage.
    """
    wanted = etree.fromstring(xml.encode())
    kind = wanted.get("type")
    src = wanted.find("source")
    key_dir = src.find("dir").get("path") if src.find("dir") is not None else None
    key_dev = src.find("device").get("path") if src.find("device") is not None else None
    for attempt in range(3):
        for pool in conn.listAllStoragePools():
            root = etree.fromstring(pool.XMLDesc().encode())
            if root.get("type") != kind:
                continue
            d = root.find("source/dir")
            dev = root.find("source/device")
            if (key_dir and d is not None and d.get("path") == key_dir) or \
               (key_dev and dev is not None and dev.get("path") == key_dev):
                if not pool.isActive():
                    pool.create(libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
                pool.refresh()
                return pool
        try:
            pool = conn.storagePoolDefineXML(xml)
        except libvirt.libvirtError as err:
            if "conflict" in str(err).lower() and attempt < 2:
                time.sleep(0.5)
                continue
            raise
        name = pool.name()
        cleanup(lambda conn=conn, name=name: remove_pool(conn, name))
        pool.create(libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
        return pool
    raise AssertionError("no pool on the shared source")


def dir_pool(conn, name: str, cleanup):
    """A local directory pool (not shared between hosts), removed with its files afterwards."""
    pool = conn.storagePoolDefineXML(
        f"<pool type='dir'><name>{name}</name>"
        f"<target><path>/var/lib/libvirt/{name}</path></target></pool>")
    cleanup(lambda: remove_pool(conn, name, delete=True))
    pool.create(libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
    return pool


def remove_pool(conn, name: str, delete: bool = False) -> None:
    """Undefine a pool we defined; `delete` also removes its volumes (never on shared storage)."""
    pool = conn.storagePoolLookupByName(name)
    if delete:
        for vol in pool.listAllVolumes():
            vol.delete()
    if pool.isActive():
        pool.destroy()
    try:
        pool.delete()  # removes a netfs mount point or a dir pool's directory
    except libvirt.libvirtError:
        pass  # iscsi-direct pools have nothing to delete
    pool.undefine()


def migrate(dom, dest, params: dict, renames=()):
    """Live-migrate; `renames` (old, new) adapt the XML where b names the storage differently
    (b may already have its own pool on the share, under another name or mount point)."""
    params = dict(params)
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE)
    for old, new in renames:
        if old != new:
            xml = xml.replace(old, new)
            params[libvirt.VIR_MIGRATE_PARAM_DEST_XML] = xml
    started = time.monotonic()
    dom.migrate3(dest, params, MIGRATE_FLAGS)
    return time.monotonic() - started
