"""Provision: build and tear down a lab's starting state through the libvirt API only.

Only the libvirt API (no shell, no local files), so `lab start` works the same on a remote host
over qemu+ssh:// as on a lab host. Every function is idempotent: starting a lab again resets it.
Unlike grading, this works over read-write connections (grader.reading.connection, write=True),
which the caller opens and hands over in a StartContext.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Mapping

import libvirt

from grader.core.xmlmodel import LAB_NS, parse
from grader.errors import EnvironmentProblem, one_line
from grader.labhosts.kvm import domain_type
from grader.templating import render

MiB, GiB = 2**20, 2**30


@dataclass
class StartContext:
    """What a lab's start/finish functions get: read-write connections per role, the lab's
    start options (declared in its lab.toml) and the environment they may read (LAB_SHARE_*)."""

    lab: str
    conns: dict[str, object]
    options: dict[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)

    def conn(self, role: str = "A"):
        return self.conns[role]


# --- pools and volumes -------------------------------------------------------------------------

def _lookup(func, name):
    try:
        return func(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() in (libvirt.VIR_ERR_NO_STORAGE_POOL, libvirt.VIR_ERR_NO_DOMAIN,
                                    libvirt.VIR_ERR_NO_STORAGE_VOL):
            return None
        raise


def find_pool(conn, name: str):
    return _lookup(conn.storagePoolLookupByName, name)


def define_pool(conn, name: str, type: str, target: str | None, source: dict | None = None,
                build: bool = True, autostart: bool = True):
    """Define, build and start a pool (replacing one of the same name)."""
    remove_pool(conn, name)
    xml = render("pool.xml.j2", name=name, type=type, target=target, source=source or {})
    pool = conn.storagePoolDefineXML(xml, 0)
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
        local = parse(pool.XMLDesc(0)).get("type") == "dir"
        pool.destroy()
        if local and persistent and volumes is None:
            try:
                pool.delete(0)
            except libvirt.libvirtError:
                pass  # a directory with foreign files stays
    if persistent:
        pool.undefine()


def create_volume(pool, name: str, format: str, capacity: int, allocation: int = 0, backing: dict | None = None):
    xml = render("volume.xml.j2", name=name, format=format, capacity=capacity,
                 allocation=allocation, backing=backing)
    return pool.createXML(xml, 0)


# --- domains -----------------------------------------------------------------------------------

def new_nonce() -> str:
    return secrets.token_hex(8)


def define_domain(conn, name: str, lab: str, disks: list[dict], memory_mib: int = 64,
                  nonce: str | None = None):
    """Define a lab domain tagged with the lab's metadata and a fresh nonce."""
    remove_domain(conn, name)
    xml = render("domain.xml.j2", name=name, lab=lab, lab_ns=LAB_NS, nonce=nonce or new_nonce(),
                 domain_type=domain_type(conn), disks=disks, memory_mib=memory_mib)
    return conn.defineXML(xml)


def remove_domain(conn, name: str) -> None:
    """Stop and undefine a domain with its snapshot metadata; its files go with its pool."""
    dom = _lookup(conn.lookupByName, name)
    if dom is None:
        return
    if dom.isActive():
        persistent = dom.isPersistent()
        dom.destroy()
        if not persistent:
            return  # a transient domain (e.g. migrated without --persistent) is gone once stopped
    for snap in dom.listAllSnapshots(0):
        try:
            snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
        except libvirt.libvirtError as err:
            if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                raise
    if dom.isPersistent():
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                          | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                          | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
                          | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)


def start_domain(dom) -> None:
    try:
        dom.create()
    except libvirt.libvirtError as err:
        raise EnvironmentProblem(f"domain {dom.name()} did not start: {one_line(err)}; "
                                 "check that virtlogd runs and /dev/kvm is usable (or TCG is offered)") from None

