"""The toy lab's checks: one with partial credit, one on a prepared domain."""
from grader.core.checks import Verdict, check, fail, passed, prepared_domain
from grader.core.evidence import Evidence
from grader.core.i18n import Message

from .names import POOL, SNAPSHOT, VM


@check("pool-on")
def pool_on(ev: Evidence) -> Verdict:
    pool = ev.host().pool(POOL)
    if pool is None:
        fail("pool-missing", pool=POOL)
    if not pool.active:
        return Verdict.of(0.5, Message.of("pool-inactive", pool=POOL))
    return passed("pool-ok", pool=POOL, volumes=len(pool.volumes))


@check("vm-snap")
def vm_snap(ev: Evidence) -> Verdict:
    dom = prepared_domain(ev, VM)
    snap = dom.snapshots.get(SNAPSHOT)
    if snap is None:
        fail("snap-missing", snapshot=SNAPSHOT, domain=VM)
    return passed("snap-ok", snapshot=SNAPSHOT, state=snap.view.state)
