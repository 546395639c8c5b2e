"""lab4's reference solution through the libvirt Python API: cold, shared pool, live.

Used by the notebook's hidden solution, the tests and the fixtures. Each step tolerates its
own earlier result, so solving twice in a row leaves the same, correct state:

    python -m labs.lab4.solution URI_A URI_B     # default $LAB_URI_A and $LAB_URI_B
"""
from __future__ import annotations

import os
import shlex
import sys
import time
from urllib.parse import urlparse

import libvirt
from lxml import etree

from grader.core.xmlmodel import parse

from grader.provision import pool_xml
from grader.reading.connection import quiet_libvirt

from .names import COLD, LIVE, LOCAL_PATH, LOCAL_POOL, SHARED_POOL

# The functions below report libvirt's errors as exceptions; don't also print them to stderr.
quiet_libvirt()

CHUNK = 256 * 1024
#: A migration that moves a running domain, leaves it defined on B and gone from A.
LIVE_FLAGS = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PERSIST_DEST
              | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)


def _lookup(func, name):
    try:
        return func(name)
    except libvirt.libvirtError:
        return None


# --- cold migration ----------------------------------------------------------------------------

def local_pool(conn, name: str = LOCAL_POOL, path: str = LOCAL_PATH):
    """A directory pool on this host (created, built and started if missing)."""
    pool = _lookup(conn.storagePoolLookupByName, name)
    if pool is None:
        pool = conn.storagePoolDefineXML(pool_xml(name, "dir", path), 0)
        pool.setAutostart(1)
    if not pool.isActive():
        pool.build(0)
        pool.create(0)
    return pool


def copy_volume(src_vol, dst_pool, dst_conn):
    """Stream a volume's bytes from one host to a new volume of the same name on another.

    The new volume starts empty (raw, 0 bytes) and receives the file unchanged; refreshing the
    pool makes libvirt probe it again, so a qcow2 image is reported as qcow2.
    """
    name = src_vol.name()
    old = _lookup(dst_pool.storageVolLookupByName, name)
    if old is not None:
        old.delete(0)
    xml = (f"<volume><name>{name}</name><capacity>0</capacity>"
           "<target><format type='raw'/></target></volume>")
    dst_vol = dst_pool.createXML(xml, 0)
    down, up = src_vol.connect().newStream(0), dst_conn.newStream(0)
    src_vol.download(down, 0, 0, 0)
    dst_vol.upload(up, 0, 0, 0)
    copied = 0
    while True:
        chunk = down.recv(CHUNK)
        if not chunk:
            break
        up.send(chunk)
        copied += len(chunk)
    down.finish()
    up.finish()
    dst_pool.refresh(0)
    return dst_pool.storageVolLookupByName(name), copied


def cold_migrate(a, b, name: str = COLD) -> dict:
    """Shut off, copy the disk into B's local pool, define on B with the same XML, undefine on A."""
    started = time.monotonic()
    dom = _lookup(a.lookupByName, name)
    if dom is None:
        return {}  # already moved
    if dom.isActive():
        dom.destroy()
    root = parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    pool_b = local_pool(b)
    copied = 0
    for source in root.xpath("./devices/disk[@device='disk']/source[@file]"):
        vol_b, size = copy_volume(a.storageVolLookupByPath(source.get("file")), pool_b, b)
        source.set("file", vol_b.path())
        copied += size
    b.defineXML(etree.tostring(root).decode())
    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                      | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    return {"seconds": time.monotonic() - started, "bytes": copied}


# --- shared pool -------------------------------------------------------------------------------

def shared_pool(a, b, name: str = SHARED_POOL):
    """B's copy of A's netfs pool definition: same source, same target; started."""
    pool = _lookup(b.storagePoolLookupByName, name)
    if pool is None:
        root = parse(a.storagePoolLookupByName(name).XMLDesc(
            libvirt.VIR_STORAGE_XML_INACTIVE))
        for tag in ("uuid", "capacity", "allocation", "available"):
            for node in root.findall(tag):
                root.remove(node)
        pool = b.storagePoolDefineXML(etree.tostring(root).decode(), 0)
        pool.setAutostart(1)
    if not pool.isActive():
        pool.build(0)  # creates the mount point
        pool.create(0)
    pool.refresh(0)
    return pool


# --- live migration ----------------------------------------------------------------------------

#: Hosts on one machine (the project's lab hosts) listen for migrations on loopback only.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def migration_params(uri_b: str, env=os.environ) -> dict:
    """Where QEMU on A sends the memory stream: an address of B that A can reach.

    Without a migration URI, B's libvirt offers its own host name, which must resolve *on A* to
    an address A can route to (on Debian a host's name often resolves to 127.0.1.1, and the
    migration then fails). So the stream is sent to $LAB_MIGRATION_HOST when set (B's address on
    the classroom network); else where $LAB_MIGRATE_FLAGS says (`lab hosts env` prints it: the
    light lab hosts share one machine and listen on loopback; VM hosts resolve each other's
    names on their own link, so it is empty there and libvirt's default works); else to the
    host named in B's URI, the address B was reached at. QEMU then connects to a port of B's
    migration range (49152-49215 unless qemu.conf says otherwise): B's firewall must let A in
    (docs/instructor.md).
    """
    if env.get("LAB_MIGRATION_HOST"):
        return _stream_to(env["LAB_MIGRATION_HOST"])
    if "LAB_MIGRATE_FLAGS" in env:
        return params_from_flags(env["LAB_MIGRATE_FLAGS"])
    host = urlparse(uri_b).hostname
    return _stream_to(host) if host else {}


def _stream_to(host: str) -> dict:
    if host in LOOPBACK:
        return {libvirt.VIR_MIGRATE_PARAM_URI: "tcp://127.0.0.1",
                libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: "127.0.0.1"}
    return {libvirt.VIR_MIGRATE_PARAM_URI: f"tcp://[{host}]" if ":" in host else f"tcp://{host}"}


#: The `virsh migrate` options of $LAB_MIGRATE_FLAGS and the migrate3 parameters they set.
FLAG_PARAMS = {"--migrateuri": libvirt.VIR_MIGRATE_PARAM_URI,
               "--listen-address": libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS}


def params_from_flags(flags: str) -> dict:
    """migrate3's parameters from `virsh migrate` options ("--migrateuri tcp://127.0.0.1 ...")."""
    words = shlex.split(flags)
    params = {}
    while words:
        option = words.pop(0)
        if option not in FLAG_PARAMS:
            raise ValueError(f"LAB_MIGRATE_FLAGS has {option!r}; only "
                             f"{' and '.join(FLAG_PARAMS)} (each with a value) are understood")
        if not words:
            raise ValueError(f"LAB_MIGRATE_FLAGS ends with {option!r} and no value")
        params[FLAG_PARAMS[option]] = words.pop(0)
    return params


def live_migrate(a, b, name: str = LIVE, flags: int = LIVE_FLAGS) -> dict:
    """Migrate the running domain to B; return libvirt's statistics of the incoming job."""
    dom = _lookup(a.lookupByName, name)
    if dom is None:
        return {}  # already moved
    started = time.monotonic()
    moved = dom.migrate3(b, migration_params(b.getURI()), flags)
    wall = time.monotonic() - started
    stats = moved.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED
                           | libvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED)
    return {**stats, "wall_seconds": wall}


def solve(uri_a: str, uri_b: str) -> None:
    a, b = libvirt.open(uri_a), libvirt.open(uri_b)
    try:
        cold_migrate(a, b)
        shared_pool(a, b)
        live_migrate(a, b)
    finally:
        a.close()
        b.close()


if __name__ == "__main__":
    args = sys.argv[1:] or [os.environ.get("LAB_URI_A", ""), os.environ.get("LAB_URI_B", "")]
    if len(args) != 2 or not all(args):
        sys.exit("usage: python -m labs.lab4.solution URI_A URI_B (or set LAB_URI_A and LAB_URI_B)")
    solve(*args)
