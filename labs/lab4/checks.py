"""lab4 checks: where each domain ended up after a cold and a live migration from A to B.

A cold move and a live migration leave the same domain on B; what tells them apart is the
live-only marker `lab start` put on the running lab4-live (in its live definition only): a live
migration carries it over, a copy of the definition followed by a start does not. libvirt's
completed-job statistics ("incoming migration") are a second, weaker sign: they vanish when B's
libvirtd restarts, so they can explain a missing marker but never replace it.
"""
from __future__ import annotations

from grader.core.checks import Verdict, check, fail, lab_nonce, partial, passed, prepared_domain
from grader.core.evidence import DomainEvidence, Evidence, HostEvidence
from grader.core.i18n import Message

from .names import (COLD, COLD_CAPACITY, LIVE, SHARED_PATH, SHARED_POOL,
                    SHARED_POOL_TYPES)
from .views import live_nonce

#: libvirt's VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN, as the job statistics report it.
OPERATION_MIGRATION_IN = 4


def _not_same_host(ev: Evidence) -> None:
    """A and B given as one host: nothing can have moved (libvirt refuses it, too)."""
    a, b = ev.host("A").host_uuid, ev.host("B").host_uuid
    if a and a == b:
        fail("same-host", uri=ev.host("B").uri)


def _kept_on_a(ev: Evidence, name: str, moved: DomainEvidence) -> DomainEvidence | None:
    """A's definition of the same prepared domain, if A still has it."""
    left = ev.host("A").domain(name)
    if left is None:
        return None
    return left if (left.uuid, lab_nonce(left)) == (moved.uuid, lab_nonce(moved)) else None


# --- cold-migrate ------------------------------------------------------------------------------

@check("cold-migrate")
def cold_migrate(ev: Evidence) -> Verdict:
    _not_same_host(ev)
    a, b = ev.host("A"), ev.host("B")
    if b.domain(COLD) is None and a.domain(COLD) is not None:
        fail("cold-not-on-b")
    dom = prepared_domain(ev, COLD, role="B")
    left = a.domain(COLD)
    if left is not None and (left.uuid, lab_nonce(left)) != (dom.uuid, lab_nonce(dom)):
        fail("cold-not-the-same", uuid_a=left.uuid, uuid_b=dom.uuid)
    if not dom.persistent:
        fail("cold-not-persistent")
    _cold_disk(b, dom)
    if left is not None:
        return partial(0.75, "cold-still-on-a")
    return passed("cold-ok")


def _cold_disk(b: HostEvidence, dom: DomainEvidence) -> None:
    """The disk must be a qcow2 volume of the prepared capacity in a local pool of B."""
    disks = dom.view.file_disks
    if not disks:
        fail("cold-no-disk")
    disk = disks[0]
    found = _volume_of(b, disk)
    if found is None:
        fail("cold-disk-not-on-b", path=disk.path or f"{disk.pool}/{disk.volume}")
    pool, vol = found
    if pool.view.type in SHARED_POOL_TYPES:
        fail("cold-disk-shared", pool=pool.name, type=pool.view.type)
    if vol.view.format != "qcow2" or disk.driver_type not in (None, "qcow2"):
        fail("cold-disk-not-qcow2", format=vol.view.format or "?", driver=disk.driver_type or "?")
    if vol.view.capacity != COLD_CAPACITY:
        fail("cold-disk-capacity", capacity=vol.view.capacity or 0, expected=COLD_CAPACITY)


def _volume_of(host: HostEvidence, disk):
    if disk.pool and disk.volume:
        pool = host.pool(disk.pool)
        vol = pool.volumes.get(disk.volume) if pool else None
        return (pool, vol) if vol else None
    return host.volume_by_path(disk.path)


# --- shared-pool -------------------------------------------------------------------------------

@check("shared-pool")
def shared_pool(ev: Evidence) -> Verdict:
    _not_same_host(ev)
    on_a, on_b = ev.host("A").pool(SHARED_POOL), ev.host("B").pool(SHARED_POOL)
    if on_a is None:
        fail("shared-missing-on-a")
    if on_b is None:
        fail("shared-missing-on-b")
    b = on_b.view
    if b.type != "netfs":
        fail("shared-not-netfs", type=b.type)
    if _source(on_a.view) != _source(b):
        fail("shared-other-source", source_a=_show(on_a.view), source_b=_show(b))
    if _path(b.target_path) != _path(on_a.view.target_path or SHARED_PATH):
        fail("shared-wrong-target", target=b.target_path or "none",
             expected=on_a.view.target_path or SHARED_PATH)
    if not on_b.active:
        fail("shared-inactive")
    return passed("shared-ok", source=_show(b))


def _source(pool) -> tuple:
    return ((pool.source_host or "").lower(), _path(pool.source_dir), pool.source_format or "auto")


def _path(path: str | None) -> str:
    return (path or "").rstrip("/") or "/"


def _show(pool) -> str:
    return f"{pool.source_format or 'auto'}://{pool.source_host or '?'}{pool.source_dir or '?'}"


# --- live-migrate ------------------------------------------------------------------------------

@check("live-migrate")
def live_migrate(ev: Evidence) -> Verdict:
    _not_same_host(ev)
    a, b = ev.host("A"), ev.host("B")
    if b.domain(LIVE) is None and a.domain(LIVE) is not None:
        fail("live-not-on-b")
    dom = prepared_domain(ev, LIVE, role="B")
    if dom.state != "running":
        fail("live-not-running", state=dom.state)
    _live_disk(b, dom)
    fraction, messages = _arrival(dom)
    if not dom.persistent:
        fraction, messages = min(fraction, 0.5), messages + [Message.of("live-not-persistent")]
    if _kept_on_a(ev, LIVE, dom) is not None:
        fraction, messages = min(fraction, 0.75), messages + [Message.of("live-still-on-a")]
    return Verdict.of(fraction, *messages)


def _live_disk(b: HostEvidence, dom: DomainEvidence) -> None:
    """Every disk must be on B's lab4-shared: the same files A was using, not a copy."""
    pool = b.pool(SHARED_POOL)
    root = _path(pool.view.target_path if pool else SHARED_PATH) + "/"
    for disk in dom.view.file_disks:
        on_pool = disk.pool == SHARED_POOL if disk.pool else (disk.path or "").startswith(root)
        if not on_pool or pool is None:
            fail("live-disk-not-shared", path=disk.path or f"{disk.pool}/{disk.volume}")


def _arrival(dom: DomainEvidence) -> tuple[float, list[Message]]:
    """How lab4-live got to B: the live-only marker decides; job statistics only explain."""
    live = live_nonce(dom.view)
    kept_in_config = live_nonce(dom.inactive_view)
    if live and not kept_in_config:
        return 1.0, [Message.of("live-ok")]
    if live and kept_in_config:
        return 0.5, [Message.of("live-marker-in-config")]
    if _incoming_migration(dom):
        return 0.5, [Message.of("live-restarted-after-migration")]
    return 0.5, [Message.of("live-cold-move")]


def _incoming_migration(dom: DomainEvidence) -> bool:
    stats = dom.job_stats or {}
    return stats.get("operation") == OPERATION_MIGRATION_IN
