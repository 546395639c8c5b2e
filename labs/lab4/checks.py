"""lab4 checks: where each domain ended up after a cold and a live migration from A to B.

A cold move and a live migration leave the same domain on B; what tells them apart is the
live-only marker `lab start` put on the running lab4-live (in its live definition only): a live
migration carries it over, a copy of the definition followed by a start does not. libvirt's
completed-job statistics ("incoming migration") are a second, weaker sign: they vanish when B's
libvirtd restarts, so they can explain a missing marker but never replace it.
"""
from __future__ import annotations

from grader.checks import Verdict, check, failed, lab_nonce, passed, prepared_domain
from grader.evidence import DomainEvidence, Evidence, HostEvidence
from grader.i18n import Message
from labs.lab4.names import (COLD, COLD_CAPACITY, LIVE, SHARED_PATH, SHARED_POOL,
                             SHARED_POOL_TYPES)

#: libvirt's VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN, as the job statistics report it.
OPERATION_MIGRATION_IN = 4


def _verdict(fraction: float, *messages: Message) -> Verdict:
    return Verdict(fraction, tuple(messages))


def _same_host(ev: Evidence) -> Verdict | None:
    """A and B given as one host: nothing can have moved (libvirt refuses it, too)."""
    a, b = ev.host("A").host_uuid, ev.host("B").host_uuid
    if a and a == b:
        return failed("same-host", uri=ev.host("B").uri)
    return None


def _kept_on_a(ev: Evidence, name: str, moved: DomainEvidence) -> DomainEvidence | None:
    """A's definition of the same prepared domain, if A still has it."""
    left = ev.host("A").domain(name)
    if left is None:
        return None
    return left if (left.uuid, lab_nonce(left)) == (moved.uuid, lab_nonce(moved)) else None


# --- cold-migrate ------------------------------------------------------------------------------

@check("cold-migrate")
def cold_migrate(ev: Evidence) -> Verdict:
    verdict = _same_host(ev)
    if verdict:
        return verdict
    a, b = ev.host("A"), ev.host("B")
    if b.domain(COLD) is None and a.domain(COLD) is not None:
        return failed("cold-not-on-b")
    dom, verdict = prepared_domain(ev, COLD, role="B")
    if verdict:
        return verdict
    left = a.domain(COLD)
    if left is not None and (left.uuid, lab_nonce(left)) != (dom.uuid, lab_nonce(dom)):
        return failed("cold-not-the-same", uuid_a=left.uuid, uuid_b=dom.uuid)
    if not dom.persistent:
        return failed("cold-not-persistent")
    verdict = _cold_disk(b, dom)
    if verdict:
        return verdict
    if left is not None:
        return _verdict(0.75, Message.of("cold-still-on-a"))
    return passed("cold-ok")


def _cold_disk(b: HostEvidence, dom: DomainEvidence) -> Verdict | None:
    """The disk must be a qcow2 volume of the prepared capacity in a local pool of B."""
    disks = dom.view.file_disks
    if not disks:
        return failed("cold-no-disk")
    disk = disks[0]
    found = _volume_of(b, disk)
    if found is None:
        return failed("cold-disk-not-on-b", path=disk.path or f"{disk.pool}/{disk.volume}")
    pool, vol = found
    if pool.view.type in SHARED_POOL_TYPES:
        return failed("cold-disk-shared", pool=pool.name, type=pool.view.type)
    if vol.view.format != "qcow2" or disk.driver_type not in (None, "qcow2"):
        return failed("cold-disk-not-qcow2", format=vol.view.format or "?",
                      driver=disk.driver_type or "?")
    if vol.view.capacity != COLD_CAPACITY:
        return failed("cold-disk-capacity", capacity=vol.view.capacity or 0, expected=COLD_CAPACITY)
    return None


def _volume_of(host: HostEvidence, disk):
    if disk.pool and disk.volume:
        pool = host.pool(disk.pool)
        vol = pool.volumes.get(disk.volume) if pool else None
        return (pool, vol) if vol else None
    return host.volume_by_path(disk.path)


# --- shared-pool -------------------------------------------------------------------------------

@check("shared-pool")
def shared_pool(ev: Evidence) -> Verdict:
    verdict = _same_host(ev)
    if verdict:
        return verdict
    on_a, on_b = ev.host("A").pool(SHARED_POOL), ev.host("B").pool(SHARED_POOL)
    if on_a is None:
        return failed("shared-missing-on-a")
    if on_b is None:
        return failed("shared-missing-on-b")
    b = on_b.view
    if b.type != "netfs":
        return failed("shared-not-netfs", type=b.type)
    if _source(on_a.view) != _source(b):
        return failed("shared-other-source", source_a=_show(on_a.view), source_b=_show(b))
    if _path(b.target_path) != _path(on_a.view.target_path or SHARED_PATH):
        return failed("shared-wrong-target", target=b.target_path or "none",
                      expected=on_a.view.target_path or SHARED_PATH)
    if not on_b.active:
        return failed("shared-inactive")
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
    verdict = _same_host(ev)
    if verdict:
        return verdict
    a, b = ev.host("A"), ev.host("B")
    if b.domain(LIVE) is None and a.domain(LIVE) is not None:
        return failed("live-not-on-b")
    dom, verdict = prepared_domain(ev, LIVE, role="B")
    if verdict:
        return verdict
    if dom.state != "running":
        return failed("live-not-running", state=dom.state)
    verdict = _live_disk(b, dom)
    if verdict:
        return verdict
    fraction, messages = _arrival(dom)
    if not dom.persistent:
        fraction, messages = min(fraction, 0.5), messages + [Message.of("live-not-persistent")]
    if _kept_on_a(ev, LIVE, dom) is not None:
        fraction, messages = min(fraction, 0.75), messages + [Message.of("live-still-on-a")]
    return _verdict(fraction, *messages)


def _live_disk(b: HostEvidence, dom: DomainEvidence) -> Verdict | None:
    """Every disk must be on B's lab4-shared: the same files A was using, not a copy."""
    pool = b.pool(SHARED_POOL)
    root = _path(pool.view.target_path if pool else SHARED_PATH) + "/"
    for disk in dom.view.file_disks:
        on_pool = disk.pool == SHARED_POOL if disk.pool else (disk.path or "").startswith(root)
        if not on_pool or pool is None:
            return failed("live-disk-not-shared", path=disk.path or f"{disk.pool}/{disk.volume}")
    return None


def _arrival(dom: DomainEvidence) -> tuple[float, list[Message]]:
    """How lab4-live got to B: the live-only marker decides; job statistics only explain."""
    live = dom.view.live_nonce
    kept_in_config = dom.inactive_view is not None and dom.inactive_view.live_nonce
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
