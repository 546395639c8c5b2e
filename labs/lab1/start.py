"""lab1's starting state is nothing: `lab start lab1` only removes lab1's own pools.

The host's other pools are never touched, and neither is storage that is not lab1's: the shared
and iSCSI pools (the course's export, the target's LUNs) are only stopped and undefined, and a
`lab1-dir` that is not the dir pool at lab1's own directory (it might be on the host's image
directory) is refused with one line before anything changes (grader.provision.Place).

When the course's export is known (--share, LAB_SHARE_*), `lab start` also makes sure the share
marker is on it and says its reference, which `grade` needs to tell a pool that mounts the
export from a local mount made to look like one (grader.core.sharemarker).
"""
from grader import provision
from grader.core import share as shares
from grader.core import sharemarker

from .names import DIR, DIR_PATH, ISCSI, SHARED

#: Where lab1's pools delete anything: lab1-dir's own directory, nowhere else.
PLACES = {DIR: provision.Place("dir", DIR_PATH)}


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
    provision.check_places(conn, PLACES)
    provision.remove_pool(conn, DIR, PLACES[DIR])
    for name in (SHARED, ISCSI):
        if (pool := provision.find_pool(conn, name)) is not None:
            provision.forget_pool(pool)
