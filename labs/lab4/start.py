"""lab4's starting state: on A a shut-off domain on a local pool and a running domain on the
shared export (with the live-only marker); B starts with none of lab4's objects.

lab4-cold.qcow2 carries this student's data (labs/lab4/coldimage.py), so a copy on B can be told
from a blank image; the export carries the course's share marker (grader.core.sharemarker), made
if missing, so B's view of the export can be compared with A's.

`finish` cleans both hosts, deleting only at lab4's places (grader.provision.Place): the
directory of lab4-local, and on the shared export only lab4's volumes (named lab4-*), which holds
other people's files too. A lab4 pool anywhere else is refused with one line before anything
changes on either host; a copy a student left in another pool of B is theirs to delete.
"""
from __future__ import annotations

import libvirt

from grader import provision
from grader.core import share as shares
from grader.core import sharemarker
from grader.core.xmlmodel import VolumeXml
from grader.errors import UsageError, one_line

from . import coldimage
from .names import (COLD, COLD_CAPACITY, COLD_VOLUME, DOMAINS, ISCSI_POOL, LIVE,
                    LIVE_CAPACITY, LIVE_NS, LIVE_VOLUME, LOCAL_PATH, LOCAL_POOL,
                    SHARED_PATH, SHARED_POOL, VOLUME_PREFIX)

PLACES = {LOCAL_POOL: provision.Place("dir", LOCAL_PATH),
          SHARED_POOL: provision.Place("netfs", SHARED_PATH, own=VOLUME_PREFIX)}


def start(ctx) -> None:
    share = shares.resolve(ctx.options.get("share"), ctx.env)
    a = ctx.conn("A")
    finish(ctx)
    local = provision.define_pool(a, LOCAL_POOL, "dir", LOCAL_PATH)
    nonce = provision.new_nonce()
    cold_disk = provision.create_volume_with_data(local, COLD_VOLUME, "qcow2", COLD_CAPACITY,
                                                  coldimage.data(nonce), coldimage.OFFSET)
    provision.define_domain(a, COLD, ctx.lab, [{"format": "qcow2", "path": cold_disk.path()}], nonce=nonce)
    shared = define_shared_pool(a, share)
    marker = provision.ensure_file(shared, sharemarker.NAME)
    ctx.notes.append(f"share marker: {sharemarker.NAME}@{VolumeXml(marker.XMLDesc(0)).ctime} "
                     "(what `grade` compares B's view of the export with; in a classroom also "
                     "course.toml's share_marker, for lab1)")
    live_disk = provision.create_volume(shared, LIVE_VOLUME, "qcow2", LIVE_CAPACITY)
    live = provision.define_domain(a, LIVE, ctx.lab, [{"format": "qcow2", "path": live_disk.path()}])
    provision.start_domain(live)
    mark_live(live)


def define_shared_pool(conn, share: shares.Share):
    """lab4-shared on the course's export; a host allows one pool per source, so name the other."""
    try:
        return provision.define_pool(conn, SHARED_POOL, "netfs", SHARED_PATH, share.as_source(),
                                     own=VOLUME_PREFIX)
    except libvirt.libvirtError as err:
        other = provision.pool_on_source(conn, share.as_source(), skip=SHARED_POOL)
        other = other.name() if other is not None else None
        provision.remove_pool(conn, SHARED_POOL, PLACES[SHARED_POOL])
        if other:
            raise UsageError(f"pool {other!r} on {conn.getURI()} already uses {share} and libvirt "
                             f"allows one pool per source: stop it (`virsh pool-destroy {other}`) "
                             "and run `lab start lab4` again") from None
        raise UsageError(f"cannot mount {share} as pool {SHARED_POOL} on {conn.getURI()}: "
                         f"{one_line(err)}; check --share or LAB_SHARE_*") from None


def mark_live(dom) -> str:
    """The live-only marker: in the running definition only, so only a live migration carries it."""
    nonce = provision.new_nonce()
    dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, f"<live nonce='{nonce}'/>", "live",
                    LIVE_NS, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    return nonce


def finish(ctx) -> None:
    """Domains first on every host (a disk may be in use across hosts), then pools."""
    for conn in ctx.conns.values():
        provision.check_places(conn, PLACES)
    for conn in ctx.conns.values():
        for name in DOMAINS:
            provision.remove_domain(conn, name)
    for conn in ctx.conns.values():
        for name, place in PLACES.items():
            provision.remove_pool(conn, name, place)
        if (pool := provision.find_pool(conn, ISCSI_POOL)) is not None:
            provision.forget_pool(pool)     # the LUNs are the course's
