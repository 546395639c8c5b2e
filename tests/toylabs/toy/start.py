"""The toy lab's starting state: its pool with one volume, and its prepared domain."""
from grader import provision

from .names import POOL, POOL_PATH, VM, VOLUME

MiB = 2**20
PLACE = provision.Place("dir", POOL_PATH)


def start(ctx) -> None:
    conn = ctx.conn("A")
    finish(ctx)
    pool = provision.define_pool(conn, POOL, "dir", POOL_PATH, build=False)
    size = int(ctx.options.get("size", "16")) * MiB
    disk = provision.create_volume(pool, VOLUME, "qcow2", size)
    provision.define_domain(conn, VM, ctx.lab, [{"format": "qcow2", "path": disk.path()}])


def finish(ctx) -> None:
    conn = ctx.conn("A")
    provision.remove_domain(conn, VM)
    provision.remove_pool(conn, POOL, PLACE)
