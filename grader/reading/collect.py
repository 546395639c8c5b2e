"""Collect: read one host's state in one pass, through a read-only connection.

A read-only connection makes it impossible for grading to change a student's host. Reads that
libvirt could turn into writes are avoided: completed-job statistics are read with the
keep-completed flag, since reading them without it erases them. What a host serves is untrusted:
its total size is capped (Limits.max_host_bytes), so one hostile host costs bounded time and
memory, and an abandoned read stops at its next call.
"""
from __future__ import annotations

import threading

import libvirt

from grader.core.evidence import (DomainEvidence, HostEvidence, PoolEvidence, SnapshotEvidence,
                                  VolumeEvidence)
from grader.core.labdef import Scope
from grader.errors import CollectError, one_line
from grader.reading.limits import MiB

DOMAIN_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: "nostate",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "blocked",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "shutdown",
    libvirt.VIR_DOMAIN_SHUTOFF: "shutoff",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "pmsuspended",
}

def _reasons(prefix: str) -> dict[int, str]:
    """libvirt's reason codes for one state, by the name after the prefix: 2 -> "migrated"."""
    return {value: name[len(prefix):].lower().replace("_", " ")
            for name, value in vars(libvirt).items()
            if name.startswith(prefix) and name != prefix + "LAST" and isinstance(value, int)}


#: Why a domain is in its state (virDomainGetState's reason), for the states the labs judge
#: (other states' prefixes are shared with flags: their reasons stay numbers).
STATE_REASONS = {
    "running": _reasons("VIR_DOMAIN_RUNNING_"),
    "paused": _reasons("VIR_DOMAIN_PAUSED_"),
    "shutoff": _reasons("VIR_DOMAIN_SHUTOFF_"),
}

# Errors that mean "this object went away while we were reading": skip it, not a failure.
_VANISHED = {
    libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_STORAGE_POOL, libvirt.VIR_ERR_NO_STORAGE_VOL,
    libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT,
}


class Abandoned(Exception):
    """The read was given up (its deadline passed): stop at the next libvirt call."""


class CountingConnection:
    """Every libvirt call of a collection goes through `call`: it counts them (the benchmark's
    calls-per-host figure), adds up the text the host served against the cap, and stops an
    abandoned read."""

    def __init__(self, conn, uri: str, max_bytes: int, cancelled: threading.Event | None = None):
        self.conn, self.uri, self.max_bytes, self.cancelled = conn, uri, max_bytes, cancelled
        self.calls = self.bytes = 0

    def call(self, obj, method: str, *args):
        if self.cancelled is not None and self.cancelled.is_set():
            raise Abandoned(self.uri)
        self.calls += 1
        value = getattr(obj, method)(*args)
        if isinstance(value, str):
            self.bytes += len(value)
            if self.bytes > self.max_bytes:
                raise CollectError(
                    f"{self.uri} served more than {self.max_bytes // MiB} MiB of libvirt XML for "
                    f"this lab's objects, the limit for one host: look at what it holds (huge "
                    "<metadata> or descriptions, thousands of snapshots) before grading it")
        return value


def collect_host(uri: str, scope: Scope, conn, max_bytes: int = 8 * MiB,
                 cancelled: threading.Event | None = None) -> HostEvidence:
    """Read one host's state in one pass over an open read-only connection.

    Raises CollectError (libvirt failed, or the host served more than `max_bytes`)."""
    counter = CountingConnection(conn, uri, max_bytes, cancelled)
    try:
        host = HostEvidence(uri=uri, pool_scope=_listed(scope.pools),
                            domain_scope=_listed(scope.domains))
        host.host_uuid = _host_uuid(counter)      # every lab: copied hosts (grader.core.copies)
        if scope.host_facts:
            _host_facts(counter, host)
        host.pools = _pools(counter, scope)
        handles: dict = {}
        host.domains = _domains(counter, scope, handles)
        _block_info(counter, host, scope, handles)   # last: it opens files a hostile host may make hang
        host.libvirt_calls = counter.calls
        return host
    except libvirt.libvirtError as err:
        raise CollectError(f"libvirt failed while reading {uri}: {one_line(err)}") from None


def _listed(names: frozenset[str] | None) -> list[str] | None:
    return None if names is None else sorted(names)


def _host_uuid(c: CountingConnection) -> str | None:
    from grader.core.xmlmodel import parse

    return parse(c.call(c.conn, "getCapabilities")).findtext("./host/uuid")


def _host_facts(c: CountingConnection, host: HostEvidence) -> None:
    host.hostname = c.call(c.conn, "getHostname")
    version = c.call(c.conn, "getLibVersion")
    host.libvirt_version = f"{version // 1000000}.{version // 1000 % 1000}.{version % 1000}"


def _pools(c: CountingConnection, scope: Scope) -> dict[str, PoolEvidence]:
    out = {}
    for pool in c.call(c.conn, "listAllStoragePools", 0):
        name = pool.name()
        if not scope.wants_pool(name):
            continue
        try:
            active = bool(c.call(pool, "isActive"))
            evidence = PoolEvidence(
                name=name, xml=c.call(pool, "XMLDesc", 0), active=active,
                persistent=bool(c.call(pool, "isPersistent")),
                autostart=bool(c.call(pool, "autostart")))
            if active:
                for vol in c.call(pool, "listAllVolumes", 0):
                    try:
                        evidence.volumes[vol.name()] = VolumeEvidence(vol.name(), c.call(vol, "XMLDesc", 0))
                    except libvirt.libvirtError as err:
                        if err.get_error_code() not in _VANISHED:
                            raise
        except libvirt.libvirtError as err:
            if err.get_error_code() in _VANISHED:
                continue
            raise
        out[name] = evidence
    return out


def _domains(c: CountingConnection, scope: Scope, handles: dict) -> dict[str, DomainEvidence]:
    """Every domain with its state in one call (getAllDomainStats) and the transient ones in a
    second, instead of two calls per domain (what matters when a round trip costs 40 ms);
    drivers without domain stats fall back to asking each domain."""
    try:
        listed = [(dom, (stats.get("state.state"), stats.get("state.reason")))
                  for dom, stats in c.call(c.conn, "getAllDomainStats", libvirt.VIR_DOMAIN_STATS_STATE, 0)]
        wanted = [(dom, code) for dom, code in listed if scope.wants_domain(dom.name())]
        transient = ({d.UUIDString() for d in c.call(c.conn, "listAllDomains",
                                                     libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT)}
                     if wanted else set())
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise
        wanted = [(dom, None) for dom in c.call(c.conn, "listAllDomains", 0)
                  if scope.wants_domain(dom.name())]
        transient = None
    out = {}
    for dom, state_code in wanted:
        persistent = None if transient is None else dom.UUIDString() not in transient
        try:
            out[dom.name()] = _domain(c, dom, scope, state_code, persistent)
            handles[dom.name()] = dom
        except libvirt.libvirtError as err:
            if err.get_error_code() in _VANISHED:
                continue
            raise
    return out


def _domain(c: CountingConnection, dom, scope: Scope, state_code: tuple | None = None,
            persistent: bool | None = None) -> DomainEvidence:
    if state_code is None or state_code[0] is None:
        state_code = tuple(c.call(dom, "state", 0))
    code, reason_code = state_code
    state = DOMAIN_STATES.get(code, str(code))
    reason = None if reason_code is None else STATE_REASONS.get(state, {}).get(reason_code, str(reason_code))
    if persistent is None:
        persistent = bool(c.call(dom, "isPersistent"))
    xml = c.call(dom, "XMLDesc", 0)
    inactive_xml = None
    if persistent:
        inactive_xml = xml if state == "shutoff" else c.call(dom, "XMLDesc", libvirt.VIR_DOMAIN_XML_INACTIVE)
    evidence = DomainEvidence(name=dom.name(), uuid=dom.UUIDString(), state=state,
                              persistent=persistent, xml=xml, inactive_xml=inactive_xml, reason=reason)
    snapshots = c.call(dom, "listAllSnapshots", 0)
    current = None
    if snapshots:
        try:
            current = c.call(dom, "snapshotCurrent", 0).getName()
        except libvirt.libvirtError as err:
            if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                raise
    for snap in snapshots:
        name = snap.getName()
        evidence.snapshots[name] = SnapshotEvidence(name, c.call(snap, "getXMLDesc", 0), name == current)
    if scope.job_stats and state in ("running", "paused"):
        evidence.job_stats = _completed_job_stats(c, dom)
    return evidence


def _block_info(c: CountingConnection, host: HostEvidence, scope: Scope, handles: dict) -> None:
    """What libvirt probes now of each disk file of the domains the lab names: for a shut-off
    domain it opens the file itself (a missing one is an error, kept as the fact). The domain's
    parsed XML is the evidence's own view, which the checks read again."""
    for name in sorted(scope.block_info):
        evidence, dom = host.domains.get(name), handles.get(name)
        if evidence is None or dom is None:
            continue
        for disk in evidence.view.file_disks:
            if not disk.target:
                continue
            try:
                capacity, allocation, physical = c.call(dom, "blockInfo", disk.target, 0)
                evidence.block_info[disk.target] = {"capacity": capacity, "allocation": allocation,
                                                    "physical": physical}
            except libvirt.libvirtError as err:
                if err.get_error_code() in _VANISHED:
                    raise
                evidence.block_info[disk.target] = {"error": one_line(err, 200)}


def _completed_job_stats(c: CountingConnection, dom) -> dict | None:
    """The last completed job (e.g. an incoming migration), read without erasing it."""
    flags = libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED | libvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED
    try:
        stats = c.call(dom, "jobStats", flags)
    except libvirt.libvirtError:
        return None
    return {k: v for k, v in stats.items() if isinstance(v, (int, float, str))} or None

