"""lab4's starting state: on A a shut-off domain on a local pool and a running domain on the
shared export (with the live-only marker); B starts with none of lab4's objects.

`finish` cleans both hosts, deleting only at lab4's places (grader.provision.Place): the
directory of lab4-local, and on the shared export only lab4's volumes (named lab4-*), which holds
other people's files too. A lab4 pool anywhere else is refused with one line before anything
changes on either host; a copy a student left in another pool of B is theirs to delete.
"""
from __future__ import annotations

import libvirt

from grader import provision
from grader.core.xmlmodel import parse
from grader.errors import UsageError, one_line

from . import share as shares
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
    cold_disk = provision.create_volume(local, COLD_VOLUME, "qcow2", COLD_CAPACITY)
    provision.define_domain(a, COLD, ctx.lab, [{"format": "qcow2", "path": cold_disk.path()}])
    shared = define_shared_pool(a, share)
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
        other = _pool_on_source(conn, share)
        provision.remove_pool(conn, SHARED_POOL, PLACES[SHARED_POOL])
        if other:
            raise UsageError(f"pool {other!r} on {conn.getURI()} already uses {share} and libvirt "
                             f"allows one pool per source: stop it (`virsh pool-destroy {other}`) "
                             "and run `lab start lab4` again") from None
        raise UsageError(f"cannot mount {share} as pool {SHARED_POOL} on {conn.getURI()}: "
                         f"{one_line(err)}; check --share or LAB_SHARE_*") from None


def _pool_on_source(conn, share: shares.Share) -> str | None:
    """Another pool of this host on the same export, if any."""
    for pool in conn.listAllStoragePools(0):
        view = parse(pool.XMLDesc(0))
        if (pool.name() != SHARED_POOL and view.get("type") == "netfs"
                and view.xpath("string(./source/host/@name)") == share.host
                and view.xpath("string(./source/dir/@path)").rstrip("/") == share.path):
            return pool.name()
    return None


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
