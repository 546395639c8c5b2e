"""Evidence: what the grader read from a student's hosts, as plain data that round-trips JSON.

Raw libvirt XML is kept as it came, plus the few facts libvirt gives only through calls (state
and its reason, persistence, autostart, current snapshot, job statistics, what it probes of a
domain's disk files). `expected` holds what the course's own configuration says the hosts should
show (never read from a host), for checks that compare the two. Parsed views (grader.core.xmlmodel) are
derived from the XML on demand, so an evidence file regrades offline exactly as it graded live.
"""
from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from grader.core.xmlmodel import DomainXml, PoolXml, SnapshotXml, VolumeXml

FORMAT_VERSION = 1


class cached_view:
    """Like functools.cached_property, without its lock: in Python 3.11 that lock is one per
    property for every instance, so many students scored at once in worker threads would wait
    on each other. A view computed twice by two threads is the same view: harmless."""

    def __init__(self, func):
        self.func, self.name = func, func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


class BadEvidence(ValueError):
    """A file or document that is not evidence of this grader (wrong shape, wrong types)."""


class OutOfScope(LookupError):
    """A check asked for an object its lab does not collect: a bug in the lab, never a pass."""


@dataclass
class VolumeEvidence:
    name: str
    xml: str

    @cached_view
    def view(self) -> VolumeXml:
        return VolumeXml(self.xml)


@dataclass
class PoolEvidence:
    name: str
    xml: str
    active: bool
    persistent: bool
    autostart: bool
    volumes: dict[str, VolumeEvidence] = field(default_factory=dict)

    @cached_view
    def view(self) -> PoolXml:
        return PoolXml(self.xml)


@dataclass
class SnapshotEvidence:
    name: str
    xml: str
    current: bool

    @cached_view
    def view(self) -> SnapshotXml:
        return SnapshotXml(self.xml)

    @property
    def parent(self) -> str | None:
        return self.view.parent


@dataclass
class DomainEvidence:
    name: str
    uuid: str
    state: str                      # running | paused | shutoff | ... (libvirt's words)
    persistent: bool
    xml: str                        # live definition when running, else the persistent one
    inactive_xml: str | None        # persistent definition (None for a transient domain)
    snapshots: dict[str, SnapshotEvidence] = field(default_factory=dict)
    job_stats: dict | None = None   # completed-job statistics, read without erasing them
    #: Why the domain is in its state, as libvirt recorded it (booted, migrated, unpaused...):
    #: libvirt's own record, kept across a libvirtd restart; XML cannot set it.
    reason: str | None = None
    #: Disk target -> what libvirt probed of its file now (capacity, allocation, physical in
    #: bytes), or {"error": one line} when it could not (the file is missing).
    block_info: dict = field(default_factory=dict)

    @cached_view
    def view(self) -> DomainXml:
        return DomainXml(self.xml)

    @cached_view
    def inactive_view(self) -> DomainXml | None:
        return DomainXml(self.inactive_xml) if self.inactive_xml else None

    @property
    def current_snapshot(self) -> str | None:
        return next((s.name for s in self.snapshots.values() if s.current), None)

    def children(self, snapshot: str) -> list[str]:
        return sorted(s.name for s in self.snapshots.values() if s.parent == snapshot)


@dataclass
class HostEvidence:
    """Everything read from one libvirt host, in one pass."""

    uri: str
    hostname: str | None = None
    host_uuid: str | None = None
    libvirt_version: str | None = None
    pools: dict[str, PoolEvidence] = field(default_factory=dict)
    domains: dict[str, DomainEvidence] = field(default_factory=dict)
    libvirt_calls: int = 0
    #: The names that were collected (None: every object of that kind). Looking up a name
    #: outside them would silently find nothing, so it raises OutOfScope instead.
    pool_scope: list[str] | None = None
    domain_scope: list[str] | None = None

    def pool(self, name: str) -> PoolEvidence | None:
        if self.pool_scope is not None and name not in self.pool_scope:
            raise OutOfScope(f"pool {name!r} is not in the lab's collect scope {self.pool_scope}")
        return self.pools.get(name)

    def domain(self, name: str) -> DomainEvidence | None:
        if self.domain_scope is not None and name not in self.domain_scope:
            raise OutOfScope(f"domain {name!r} is not in the lab's collect scope {self.domain_scope}")
        return self.domains.get(name)

    def volume_by_path(self, path: str | None) -> tuple[PoolEvidence, VolumeEvidence] | None:
        """The pool and volume that hold a file, from what the pools listed."""
        if not path:
            return None
        for pool in self.pools.values():
            for vol in pool.volumes.values():
                if vol.view.path == path:
                    return pool, vol
        return None


@dataclass
class Evidence:
    """One student's hosts by role ('A', 'B'), plus what went wrong per role, if anything."""

    lab: str
    student: str
    hosts: dict[str, HostEvidence]
    uris: dict[str, str] = field(default_factory=dict)
    #: role -> {"kind": "unreachable" | "error", "message": one line}, for hosts not read
    errors: dict[str, dict] = field(default_factory=dict)
    #: What the course's configuration says the hosts should show (e.g. the share marker's
    #: ctime): set by the grader from its own settings, never from a host.
    expected: dict[str, str] = field(default_factory=dict)

    def host(self, role: str = "A") -> HostEvidence:
        return self.hosts[role]

    def to_dict(self) -> dict:
        out = {"format": FORMAT_VERSION, "lab": self.lab, "student": self.student,
               "uris": self.uris, "errors": self.errors, "hosts": {}}
        if self.expected:
            out["expected"] = self.expected
        for role, host in self.hosts.items():
            out["hosts"][role] = _host_to_dict(host)
        return out

    @classmethod
    def from_dict(cls, data) -> "Evidence":
        """Evidence from its JSON shape; anything else (lists for objects, wrong types) is
        BadEvidence with what was wrong, never a crash further down."""
        try:
            _expect(data, dict, "the document")
            hosts = {role: _host_from_dict(h) for role, h in _mapping(data, "hosts").items()}
            errors = _mapping(data, "errors")
            for role, err in errors.items():
                _expect(err, dict, f"errors.{role}")
            expected = _mapping(data, "expected")
            for key, value in expected.items():
                _expect(value, str, f"expected.{key}")
            evidence = cls(lab=_expect(data["lab"], str, "lab"), student=_expect(data["student"], str, "student"),
                           hosts=hosts, uris=_mapping(data, "uris"), errors=errors, expected=expected)
        except KeyError as err:
            raise BadEvidence(f"missing key {err}") from None
        except (TypeError, AttributeError, ValueError) as err:
            raise BadEvidence(str(err)) from None
        return evidence

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def load(cls, path: str | Path) -> "Evidence":
        try:
            data = json.loads(Path(path).read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BadEvidence(f"not JSON ({err})") from None
        return cls.from_dict(data)


def _expect(value, kind, where: str):
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadEvidence(f"{where} should be {kind.__name__}, not {type(value).__name__}")
    return value


def _mapping(data: dict, key: str) -> dict:
    value = data.get(key)
    return {} if value is None else _expect(value, dict, key)


def _host_to_dict(host: HostEvidence) -> dict:
    data = asdict(host)
    for key in ("pool_scope", "domain_scope"):   # absent means every object (older files too)
        if data[key] is None:
            del data[key]
    try:
        data["facts"] = _facts(host)
    except Exception as err:  # noqa: BLE001 - the facts are a courtesy; the XML stays the truth
        data["facts"] = {"unreadable": f"{type(err).__name__}: {err}"[:300]}
    return data


def _facts(host: HostEvidence) -> dict:
    """Parsed facts for people reading the file; ignored when loading (the XML is the truth)."""
    return {
        "pools": {n: {"type": p.view.type, "target": p.view.target_path, "active": p.active,
                      "volumes": {v.name: {"format": v.view.format, "capacity": v.view.capacity,
                                           "allocation": v.view.allocation}
                                  for v in p.volumes.values()}}
                  for n, p in host.pools.items()},
        "domains": {n: {"state": d.state, "snapshots": {s.name: s.parent for s in d.snapshots.values()},
                        "current_snapshot": d.current_snapshot}
                    for n, d in host.domains.items()},
    }


def _record(cls, data, where: str, **nested):
    """One dataclass from its dict: every field of the right type, unknown keys refused."""
    _expect(data, dict, where)
    kinds = {"str": str, "bool": bool, "dict": dict, "str | None": (str, type(None)),
             "dict | None": (dict, type(None))}
    values = {}
    for f in fields(cls):
        if f.name in nested:
            values[f.name] = nested[f.name]
            continue
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise BadEvidence(f"{where} has no {f.name!r}")
            continue
        kind = kinds.get(str(f.type))
        if kind is not None and not isinstance(data[f.name], kind):
            raise BadEvidence(f"{where}.{f.name} should be {f.type}, not {type(data[f.name]).__name__}")
        values[f.name] = data[f.name]
    return cls(**values)


def _host_from_dict(data) -> HostEvidence:
    _expect(data, dict, "a host")
    pools = {}
    for name, p in _mapping(data, "pools").items():
        vols = {vn: _record(VolumeEvidence, v, f"volume {vn}") for vn, v in _mapping(_expect(p, dict, name), "volumes").items()}
        pools[name] = _record(PoolEvidence, p, f"pool {name}", volumes=vols)
    domains = {}
    for name, d in _mapping(data, "domains").items():
        snaps = {sn: _record(SnapshotEvidence, s, f"snapshot {sn}")
                 for sn, s in _mapping(_expect(d, dict, name), "snapshots").items()}
        domains[name] = _record(DomainEvidence, d, f"domain {name}", snapshots=snaps)
    keep = {k: data.get(k) for k in ("uri", "hostname", "host_uuid", "libvirt_version")}
    for key, value in keep.items():
        if value is not None and not isinstance(value, str):
            raise BadEvidence(f"host {key} should be a string, not {type(value).__name__}")
    scopes = {k: data.get(k) for k in ("pool_scope", "domain_scope")}
    for key, value in scopes.items():
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise BadEvidence(f"host {key} should be a list of names")
    calls = data.get("libvirt_calls", 0)
    return HostEvidence(**keep, pools=pools, domains=domains, **scopes,
                        libvirt_calls=calls if isinstance(calls, int) else 0)
