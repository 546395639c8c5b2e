"""lab3's starting state: pool `lab3` with a qcow2 and a raw image, two shut-off domains.

Only the dir pool at lab3's own directory is ever emptied: a `lab3` elsewhere is refused with
one line before anything changes, domains included (grader.provision.Place)."""
from grader import provision

from .names import (DOMAINS, POOL, POOL_PATH, RAW, RAW_CAPACITY, RAW_VOLUME, VM,
                    VM_CAPACITY, VM_VOLUME)

PLACES = {POOL: provision.Place("dir", POOL_PATH)}


def start(ctx) -> None:
    conn = ctx.conn("A")
    finish(ctx)
    pool = provision.define_pool(conn, POOL, "dir", POOL_PATH)
    vm_disk = provision.create_volume(pool, VM_VOLUME, "qcow2", VM_CAPACITY)
    raw_disk = provision.create_volume(pool, RAW_VOLUME, "raw", RAW_CAPACITY)
    provision.define_domain(conn, VM, ctx.lab, [{"format": "qcow2", "path": vm_disk.path()}])
    provision.define_domain(conn, RAW, ctx.lab, [{"format": "raw", "path": raw_disk.path()}])


def finish(ctx) -> None:
    conn = ctx.conn("A")
    provision.check_places(conn, PLACES)
    for name in DOMAINS:
        provision.remove_domain(conn, name)
    provision.remove_pool(conn, POOL, PLACES[POOL])
