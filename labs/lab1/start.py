"""lab1's starting state is nothing: `lab start lab1` only removes lab1's own pools.

The host's other pools are never touched, and neither is storage that is not lab1's: the shared
and iSCSI pools (the course's export, the target's LUNs) are only stopped and undefined, and so
is a `lab1-dir` that a student pointed somewhere else (it might be the host's image directory).

When the course's export is known (--share, LAB_SHARE_*), `lab start` also makes sure the share
marker is on it and says its reference, which `grade` needs to tell a pool that mounts the
export from a local mount made to look like one (grader.core.sharemarker).
"""
from grader import provision
from grader.core import share as shares
from grader.core import sharemarker
from grader.core.xmlmodel import PoolXml

from .names import DIR_PATH, POOLS


def start(ctx) -> None:
    finish(ctx)
    option = ctx.options.get("share")
    share = shares.parse(option) if option else shares.from_environment(ctx.env)
    if share is not None:
        ctime = provision.file_on_share(ctx.conn("A"), share.as_source(), sharemarker.NAME)
        ctx.notes.append(f"share marker: {sharemarker.NAME}@{ctime} (grade reads it from "
                         "LAB_SHARE_MARKER or course.toml's share_marker)")


def finish(ctx) -> None:
    conn = ctx.conn("A")
    for name in POOLS:
        pool = provision.find_pool(conn, name)
        if pool is not None and _is_lab1_directory(pool):
            if not pool.isPersistent():  # made with pool-create: define it so its directory can go
                conn.storagePoolDefineXML(pool.XMLDesc(0), 0)
            provision.remove_pool(conn, name)
        elif pool is not None:
            provision.forget_pool(pool)


def _is_lab1_directory(pool) -> bool:
    """Only a dir pool on lab1's own directory has files that lab1 may delete."""
    view = PoolXml(pool.XMLDesc(0))
    return view.type == "dir" and (view.target_path or "").rstrip("/") == DIR_PATH

