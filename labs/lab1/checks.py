"""lab1 checks: the three pools a student defines (directory, network filesystem, iSCSI) and a
volume in the directory pool.

Each check reads what libvirt reports about the pool (type, target, source, state, autostart,
volumes, allocation), never the commands the student typed; feedback says what is missing and
the virsh command that fixes it.
"""
from __future__ import annotations

from grader.checks import Verdict, check, failed, passed, size
from grader.evidence import Evidence, PoolEvidence
from grader.i18n import Message

DIR, SHARED, ISCSI = "lab1-dir", "lab1-shared", "lab1-iscsi"
DIR_PATH = "/var/lib/libvirt/lab1-dir"

NETFS_FORMATS = ("nfs", "glusterfs")
ISCSI_TYPES = ("iscsi", "iscsi-direct")
#: How an iSCSI target name starts (RFC 3720: iqn., eui., naa.).
TARGET_NAME_PREFIXES = ("iqn.", "eui.", "naa.")


def _defined(ev: Evidence, name: str, missing: str) -> tuple[PoolEvidence | None, Verdict | None]:
    """The pool if it is there and persistent, else the failing verdict that says why."""
    pool = ev.host().pool(name)
    if pool is None:
        return None, failed(missing)
    if not pool.persistent:
        return None, failed("pool-transient", pool=name)
    return pool, None


@check("pool-dir")
def pool_dir(ev: Evidence):
    pool, verdict = _defined(ev, DIR, "dir-missing")
    if verdict:
        return verdict
    view = pool.view
    if view.type != "dir":
        return failed("dir-wrong-type", type=view.type)
    if (view.target_path or "").rstrip("/") != DIR_PATH:
        return failed("dir-wrong-path", path=view.target_path or "none")
    # Defined right: one point; being active and autostarting earn one point each.
    missing = []
    if not pool.active:
        missing.append(Message.of("dir-inactive"))
    if not pool.autostart:
        missing.append(Message.of("dir-no-autostart"))
    if missing:
        return Verdict((3 - len(missing)) / 3, tuple(missing))
    return passed("dir-ok")


@check("pool-netfs")
def pool_netfs(ev: Evidence):
    pool, verdict = _defined(ev, SHARED, "shared-missing")
    if verdict:
        return verdict
    view = pool.view
    if view.type == "gluster":
        return failed("shared-gluster-type")
    if view.type != "netfs":
        return failed("shared-wrong-type", type=view.type)
    if not view.source_host or not view.source_dir:
        return failed("shared-no-source", host=view.source_host or "none", path=view.source_dir or "none")
    if view.source_format not in NETFS_FORMATS:
        return failed("shared-wrong-format", format=view.source_format or "auto")
    if not pool.active:
        return failed("shared-inactive")
    return passed("shared-ok", format=view.source_format, host=view.source_host,
                  path=view.source_dir, target=view.target_path or "?")


@check("pool-iscsi")
def pool_iscsi(ev: Evidence):
    pool, verdict = _defined(ev, ISCSI, "iscsi-missing")
    if verdict:
        return verdict
    view = pool.view
    if view.type not in ISCSI_TYPES:
        return failed("iscsi-wrong-type", type=view.type)
    target = view.source_device or ""
    if not view.source_host or not target.lower().startswith(TARGET_NAME_PREFIXES):
        return failed("iscsi-no-source", host=view.source_host or "none", device=target or "none")
    if not pool.active:
        return failed("iscsi-inactive")
    if not pool.volumes:
        return failed("iscsi-no-luns", target=target)
    return passed("iscsi-ok", type=view.type, luns=len(pool.volumes),
                  names=", ".join(sorted(pool.volumes)))


@check("pool-volume")
def pool_volume(ev: Evidence):
    pool = ev.host().pool(DIR)
    if pool is None:
        return failed("volume-no-pool")
    if not pool.active:
        return failed("volume-pool-inactive")
    if not pool.volumes:
        return failed("volume-none")
    used = sum(v.view.allocation or 0 for v in pool.volumes.values())
    if (pool.view.allocation or 0) < used:
        return failed("volume-allocation-stale", pool=size(pool.view.allocation), volumes=size(used))
    return passed("volume-ok", names=", ".join(sorted(pool.volumes)), volumes=size(used),
                  pool=size(pool.view.allocation))
