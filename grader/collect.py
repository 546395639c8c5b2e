"""Collect: the only grading code that talks to libvirt, always through a read-only connection.

A read-only connection makes it impossible for grading to change a student's host. Reads that
libvirt could turn into writes are avoided: completed-job statistics are read with the
keep-completed flag, since reading them without it erases them.
"""
from __future__ import annotations

from dataclasses import dataclass

import libvirt

from grader.errors import CollectError, HostUnreachable
from grader.evidence import DomainEvidence, HostEvidence, PoolEvidence, SnapshotEvidence, VolumeEvidence

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

# libvirt prints every error to stderr by default; the grader reports them itself, in one line.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

# Errors that mean "this object went away while we were reading": skip it, not a failure.
_VANISHED = {
    libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_STORAGE_POOL, libvirt.VIR_ERR_NO_STORAGE_VOL,
    libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT,
}


@dataclass(frozen=True)
class Scope:
    """What a lab needs read. None means every object of that kind on the host."""

    pools: frozenset[str] | None = None
    domains: frozenset[str] | None = None
    host_facts: bool = False     # hostname, host UUID (needs the capabilities XML)
    job_stats: bool = False      # completed-job statistics (migration evidence)


class CountingConnection:
    """Counts libvirt calls made through it, for the benchmark's calls-per-host figure."""

    def __init__(self, conn):
        self.conn, self.calls = conn, 0

    def call(self, obj, method: str, *args):
        self.calls += 1
        return getattr(obj, method)(*args)


def open_readonly(uri: str):
    """A read-only connection, or HostUnreachable with libvirt's reason in one line."""
    try:
        conn = libvirt.openReadOnly(uri)
    except libvirt.libvirtError as err:
        raise HostUnreachable(f"cannot connect to {uri}: {_one_line(err)}") from None
    if conn is None:  # older bindings returned None
        raise HostUnreachable(f"cannot connect to {uri}")
    return conn


def collect_host(uri: str, scope: Scope, conn=None) -> HostEvidence:
    """Read one host's state in one pass. Raises HostUnreachable or CollectError."""
    own = conn is None
    conn = conn or open_readonly(uri)
    counter = CountingConnection(conn)
    try:
        host = HostEvidence(uri=uri)
        if scope.host_facts:
            _host_facts(counter, host)
        host.pools = _pools(counter, scope.pools)
        host.domains = _domains(counter, scope)
        host.libvirt_calls = counter.calls
        return host
    except libvirt.libvirtError as err:
        raise CollectError(f"libvirt failed while reading {uri}: {_one_line(err)}") from None
    finally:
        if own:
            try:
                conn.close()
            except libvirt.libvirtError:
                pass


def _host_facts(c: CountingConnection, host: HostEvidence) -> None:
    from grader.xmlmodel import parse

    caps = parse(c.call(c.conn, "getCapabilities"))
    host.host_uuid = caps.findtext("./host/uuid")
    host.hostname = c.call(c.conn, "getHostname")
    version = c.call(c.conn, "getLibVersion")
    host.libvirt_version = f"{version // 1000000}.{version // 1000 % 1000}.{version % 1000}"


def _wanted(name: str, names: frozenset[str] | None) -> bool:
    return names is None or name in names


def _pools(c: CountingConnection, names) -> dict[str, PoolEvidence]:
    out = {}
    for pool in c.call(c.conn, "listAllStoragePools", 0):
        name = pool.name()
        if not _wanted(name, names):
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


def _domains(c: CountingConnection, scope: Scope) -> dict[str, DomainEvidence]:
    """Every domain with its state in one call (getAllDomainStats) and the transient ones in a
    second, instead of two calls per domain (what matters when a round trip costs 40 ms);
    drivers without domain stats fall back to asking each domain."""
    try:
        listed = [(dom, stats.get("state.state"))
                  for dom, stats in c.call(c.conn, "getAllDomainStats", libvirt.VIR_DOMAIN_STATS_STATE, 0)]
        wanted = [(dom, code) for dom, code in listed if _wanted(dom.name(), scope.domains)]
        transient = ({d.UUIDString() for d in c.call(c.conn, "listAllDomains",
                                                     libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT)}
                     if wanted else set())
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise
        wanted = [(dom, None) for dom in c.call(c.conn, "listAllDomains", 0)
                  if _wanted(dom.name(), scope.domains)]
        transient = None
    out = {}
    for dom, state_code in wanted:
        persistent = None if transient is None else dom.UUIDString() not in transient
        try:
            out[dom.name()] = _domain(c, dom, scope, state_code, persistent)
        except libvirt.libvirtError as err:
            if err.get_error_code() in _VANISHED:
                continue
            raise
    return out


def _domain(c: CountingConnection, dom, scope: Scope, state_code: int | None = None,
            persistent: bool | None = None) -> DomainEvidence:
    if state_code is None:
        state_code = c.call(dom, "state", 0)[0]
    state = DOMAIN_STATES.get(state_code, str(state_code))
    if persistent is None:
        persistent = bool(c.call(dom, "isPersistent"))
    xml = c.call(dom, "XMLDesc", 0)
    inactive_xml = None
    if persistent:
        inactive_xml = xml if state == "shutoff" else c.call(dom, "XMLDesc", libvirt.VIR_DOMAIN_XML_INACTIVE)
    evidence = DomainEvidence(name=dom.name(), uuid=dom.UUIDString(), state=state,
                              persistent=persistent, xml=xml, inactive_xml=inactive_xml)
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


def _completed_job_stats(c: CountingConnection, dom) -> dict | None:
    """The last completed job (e.g. an incoming migration), read without erasing it."""
    flags = libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED | libvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED
    try:
        stats = c.call(dom, "jobStats", flags)
    except libvirt.libvirtError:
        return None
    return {k: v for k, v in stats.items() if isinstance(v, (int, float, str))} or None


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())
