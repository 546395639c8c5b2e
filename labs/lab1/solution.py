"""lab1's reference solution through the libvirt Python API: what `virsh pool-define-as`,
`pool-build`, `pool-start`, `pool-autostart` and `vol-create-as` do.

The course's shared export and iSCSI target come from the environment (`lab hosts env` prints
them on lab hosts; an instructor sets them in a classroom). Each step tolerates its own earlier
result, so solving twice in a row leaves the same, correct state:

    python -m labs.lab1.solution [URI]      # default $LIBVIRT_DEFAULT_URI
"""
from __future__ import annotations

import os
import sys

import libvirt

from grader.errors import UsageError
from grader.provision import pool_xml

from .names import DIR, DIR_PATH, ISCSI, SHARED, SHARED_PATH, VOLUME


def dir_pool_xml() -> str:
    return pool_xml(DIR, "dir", DIR_PATH)


def netfs_pool_xml(host: str, path: str, fmt: str) -> str:
    return pool_xml(SHARED, "netfs", SHARED_PATH, {"host": host, "dir": path, "format": fmt})


def iscsi_pool_xml(portal: str, target: str, initiator: str | None) -> str:
    """`iscsi-direct` when an initiator IQN is given (no kernel initiator needed), else `iscsi`."""
    host, _, port = portal.partition(":")
    source = {"host": host, "port": port, "devices": [target]}
    if initiator:
        return pool_xml(ISCSI, "iscsi-direct", None, {**source, "initiator": initiator})
    return pool_xml(ISCSI, "iscsi", "/dev/disk/by-path", source)


def volume_xml(name: str, capacity: int) -> str:
    return (f"<volume><name>{name}</name><capacity unit='bytes'>{capacity}</capacity>"
            "<target><format type='qcow2'/></target></volume>")


def ensure_pool(conn, name: str, xml: str, build: bool = True, autostart: bool = False):
    """Define (once), build, start and optionally autostart a pool."""
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        pool = conn.storagePoolDefineXML(xml, 0)
    if not pool.isActive():
        if build:
            pool.build(0)
        pool.create(0)
    if autostart:
        pool.setAutostart(1)
    return pool


def environment(env=os.environ) -> dict[str, str]:
    """The course's shared export and iSCSI target, or a one-line error naming what is missing."""
    needed = ("LAB_SHARE_HOST", "LAB_SHARE_PATH", "LAB_ISCSI_HOST", "LAB_ISCSI_TARGET")
    missing = [k for k in needed if not env.get(k)]
    if missing:
        raise UsageError(f"set {', '.join(missing)} (on lab hosts: eval \"$(lab hosts env)\")")
    return {k: env[k] for k in (*needed, "LAB_SHARE_FORMAT", "LAB_ISCSI_INITIATOR") if env.get(k)}


def solve(uri: str | None = None, env=os.environ) -> None:
    course = environment(env)
    conn = libvirt.open(uri)
    try:
        pool = ensure_pool(conn, DIR, dir_pool_xml(), autostart=True)
        ensure_pool(conn, SHARED, netfs_pool_xml(course["LAB_SHARE_HOST"], course["LAB_SHARE_PATH"],
                                                 course.get("LAB_SHARE_FORMAT", "nfs")))
        ensure_pool(conn, ISCSI, iscsi_pool_xml(course["LAB_ISCSI_HOST"], course["LAB_ISCSI_TARGET"],
                                                course.get("LAB_ISCSI_INITIATOR")), build=False)
        if VOLUME not in pool.listVolumes():
            pool.createXML(volume_xml(VOLUME, 2**30), 0)
    finally:
        conn.close()


if __name__ == "__main__":
    solve(sys.argv[1] if len(sys.argv) > 1 else None)
