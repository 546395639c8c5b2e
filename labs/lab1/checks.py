"""lab1 checks: the three pools a student defines (directory, network filesystem, iSCSI) and a
volume in the directory pool.

Each check reads what libvirt reports about the pool (type, target, source, state, autostart,
volumes, allocation), never the commands the student typed; feedback says what is missing and
the virsh command that fixes it. A netfs pool's definition is a claim (a local mount named like
the export starts it too): it must also show the course's share marker with the ctime the
grader was given (grader.core.sharemarker), which only the file on the export has.
"""
from __future__ import annotations

from grader.core import sharemarker
from grader.core.checks import Verdict, check, fail, partial, passed, size
from grader.core.evidence import Evidence, PoolEvidence
from grader.core.i18n import Message

from .names import DIR, DIR_PATH, ISCSI, SHARED

NETFS_FORMATS = ("nfs", "glusterfs")
ISCSI_TYPES = ("iscsi", "iscsi-direct")
#: How an iSCSI target name starts (RFC 3720: iqn., eui., naa.).
TARGET_NAME_PREFIXES = ("iqn.", "eui.", "naa.")


def _defined(ev: Evidence, name: str, missing: str) -> PoolEvidence:
    """The pool; fails the check when it is missing or not persistent."""
    pool = ev.host().pool(name)
    if pool is None:
        fail(missing)
    if not pool.persistent:
        fail("pool-transient", pool=name)
    return pool


@check("pool-dir")
def pool_dir(ev: Evidence):
    pool = _defined(ev, DIR, "dir-missing")
    view = pool.view
    if view.type != "dir":
        fail("dir-wrong-type", type=view.type)
    if (view.target_path or "").rstrip("/") != DIR_PATH:
        fail("dir-wrong-path", path=view.target_path or "none")
    # Defined right: one point; being active and autostarting earn one point each.
    missing = []
    if not pool.active:
        missing.append(Message.of("dir-inactive"))
    if not pool.autostart:
        missing.append(Message.of("dir-no-autostart"))
    if missing:
        return Verdict.of((3 - len(missing)) / 3, *missing)
    return passed("dir-ok")


@check("pool-netfs")
def pool_netfs(ev: Evidence):
    pool = _defined(ev, SHARED, "shared-missing")
    view = pool.view
    if view.type == "gluster":
        fail("shared-gluster-type")
    if view.type != "netfs":
        fail("shared-wrong-type", type=view.type)
    if not view.source_host or not view.source_dir:
        fail("shared-no-source", host=view.source_host or "none", path=view.source_dir or "none")
    if view.source_format not in NETFS_FORMATS:
        fail("shared-wrong-format", format=view.source_format or "auto")
    if not pool.active:
        fail("shared-inactive")
    details = dict(format=view.source_format, host=view.source_host, path=view.source_dir,
                   target=view.target_path or "?")
    marker = sharemarker.expected(ev)
    if marker is None:
        return partial(0.5, "shared-unverified", **details)
    seen = pool.volumes.get(marker.name)
    if seen is None:
        fail("shared-no-marker", fraction=0.5, marker=marker.name)
    if seen.view.ctime != marker.ctime:
        fail("shared-other-marker", fraction=0.5, marker=marker.name)
    return passed("shared-ok", **details)


@check("pool-iscsi")
def pool_iscsi(ev: Evidence):
    pool = _defined(ev, ISCSI, "iscsi-missing")
    view = pool.view
    if view.type not in ISCSI_TYPES:
        fail("iscsi-wrong-type", type=view.type)
    target = view.source_device or ""
    if not view.source_host or not target.lower().startswith(TARGET_NAME_PREFIXES):
        fail("iscsi-no-source", host=view.source_host or "none", device=target or "none")
    if not pool.active:
        fail("iscsi-inactive")
    if not pool.volumes:
        fail("iscsi-no-luns", target=target)
    return passed("iscsi-ok", type=view.type, luns=len(pool.volumes),
                  names=", ".join(sorted(pool.volumes)))


@check("pool-volume")
def pool_volume(ev: Evidence):
    pool = ev.host().pool(DIR)
    if pool is None:
        fail("volume-no-pool")
    if not pool.active:
        fail("volume-pool-inactive")
    if not pool.volumes:
        fail("volume-none")
    used = sum(v.view.allocation or 0 for v in pool.volumes.values())
    if (pool.view.allocation or 0) < used:
        fail("volume-allocation-stale", pool=size(pool.view.allocation), volumes=size(used))
    return passed("volume-ok", names=", ".join(sorted(pool.volumes)), volumes=size(used),
                  pool=size(pool.view.allocation))
