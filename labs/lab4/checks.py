"""lab4 checks: where each domain ended up after a cold and a live migration from A to B.

A domain's definition, its metadata and a pool's definition are claims a student can write by
hand; full marks rest on what libvirt derives (docs/trust.md):

* live-migrate: why lab4-live runs on B, as libvirt records it (the state reason): `migrated`
  only after an incoming migration, kept across a libvirtd restart; a domain defined and started
  runs `booted`. libvirt's completed-job statistics only explain (a restart loses them).
* cold-migrate: B's disk carries the data `lab start` wrote into lab4-cold.qcow2 (coldimage),
  as its allocation shows: a blank image of the same size has almost none.
* shared-pool: B's pool shows the very files A's shows: a file's ctime, which no program can
  set, is the same seen from both.
"""
from __future__ import annotations

from grader.core import sharemarker
from grader.core.checks import (Verdict, check, fail, lab_nonce, partial, passed, prepared_domain,
                                size)
from grader.core.evidence import DomainEvidence, Evidence, HostEvidence, PoolEvidence
from grader.core.i18n import Message

from . import coldimage
from .names import (COLD, COLD_CAPACITY, LIVE, SHARED_PATH, SHARED_POOL,
                    SHARED_POOL_TYPES)

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
    """The disk must be a qcow2 image of the prepared capacity in a local pool of B, holding
    the data `lab start` wrote. The pool lists a file copied in by hand only after a refresh;
    until then what libvirt probes of the domain's disk file says the same."""
    disks = dom.view.file_disks
    if not disks:
        fail("cold-no-disk")
    disk = disks[0]
    path = disk.path or f"{disk.pool}/{disk.volume}"
    found = _volume_of(b, disk)
    if found is not None:
        pool, vol = found
        fmt, capacity, allocation = vol.view.format, vol.view.capacity, vol.view.allocation
    else:
        pool, info = _pool_holding(b, disk.path), dom.block_info.get(disk.target or "", {})
        if pool is None or "capacity" not in info:
            fail("cold-disk-not-on-b", path=path)
        fmt = disk.driver_type if info["physical"] < info["capacity"] else "raw"
        capacity, allocation = info["capacity"], info["allocation"]
    if pool.view.type in SHARED_POOL_TYPES:
        fail("cold-disk-shared", pool=pool.name, type=pool.view.type)
    if fmt != "qcow2" or disk.driver_type not in (None, "qcow2"):
        fail("cold-disk-not-qcow2", format=fmt or "?", driver=disk.driver_type or "?")
    if capacity != COLD_CAPACITY:
        fail("cold-disk-capacity", capacity=capacity or 0, expected=COLD_CAPACITY)
    if (allocation or 0) < coldimage.least_allocation(lab_nonce(dom)):
        fail("cold-disk-blank", fraction=0.5, path=path, allocation=size(allocation))


def _volume_of(host: HostEvidence, disk):
    if disk.pool and disk.volume:
        pool = host.pool(disk.pool)
        vol = pool.volumes.get(disk.volume) if pool else None
        return (pool, vol) if vol else None
    return host.volume_by_path(disk.path)


def _pool_holding(host: HostEvidence, path: str | None) -> PoolEvidence | None:
    """The active pool whose directory holds the file `path`, listed or not yet."""
    folder = (path or "").rpartition("/")[0]
    return next((p for p in host.pools.values()
                 if p.active and folder and _path(p.view.target_path) == _path(folder)), None)


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
    same = _same_files(ev, on_a, on_b)
    if not same:
        listed = ", ".join(sorted(on_a.volumes)) or "none"
        fail("shared-not-the-export", fraction=0.5, files=listed)
    return passed("shared-ok", source=_show(b), files=", ".join(same))


def _same_files(ev: Evidence, on_a: PoolEvidence, on_b: PoolEvidence) -> list[str]:
    """The files B's pool lists that are the very ones A's lists (or the course's share marker):
    the same name and the same ctime, which only the same file on the same export can show."""
    reference = {}
    if on_a.active:
        reference = {name: vol.view.ctime for name, vol in on_a.volumes.items()}
    marker = sharemarker.expected(ev)
    if marker is not None:
        reference.setdefault(marker.name, marker.ctime)
    return sorted(name for name, vol in on_b.volumes.items()
                  if reference.get(name) is not None and vol.view.ctime == reference[name])


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


#: Reasons a domain that arrived live may show after its run was interrupted on B (suspended
#: and resumed, saved and restored): a domain started on B reaches them too, so they are not
#: evidence, but the feedback says how the live state was lost.
INTERRUPTED = ("unpaused", "restored")


def _arrival(dom: DomainEvidence) -> tuple[float, list[Message]]:
    """How lab4-live got to B, as libvirt recorded it (the state reason); job statistics only
    explain a domain that was started again after it arrived."""
    if dom.reason == "migrated":
        return 1.0, [Message.of("live-ok")]
    if dom.reason in INTERRUPTED:
        return 0.5, [Message.of("live-interrupted", reason=dom.reason)]
    if _incoming_migration(dom):
        return 0.5, [Message.of("live-restarted-after-migration")]
    return 0.5, [Message.of("live-cold-move", reason=dom.reason or "unknown")]


def _incoming_migration(dom: DomainEvidence) -> bool:
    stats = dom.job_stats or {}
    return stats.get("operation") == OPERATION_MIGRATION_IN
