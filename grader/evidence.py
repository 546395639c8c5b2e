"""Evidence: what the grader read from a student's hosts, as plain data that round-trips JSON.

Raw libvirt XML is kept as it came, plus the few facts libvirt gives only through calls (state,
persistence, autostart, current snapshot, job statistics). Parsed views (grader.xmlmodel) are
derived from the XML on demand, so an evidence file regrades offline exactly as it graded live.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

from grader.xmlmodel import DomainXml, PoolXml, SnapshotXml, VolumeXml

FORMAT_VERSION = 1


@dataclass
class VolumeEvidence:
    name: str
    xml: str

    @cached_property
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

    @cached_property
    def view(self) -> PoolXml:
        return PoolXml(self.xml)


@dataclass
class SnapshotEvidence:
    name: str
    xml: str
    current: bool

    @cached_property
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

    @cached_property
    def view(self) -> DomainXml:
        return DomainXml(self.xml)

    @cached_property
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

    def pool(self, name: str) -> PoolEvidence | None:
        return self.pools.get(name)

    def domain(self, name: str) -> DomainEvidence | None:
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

    def host(self, role: str = "A") -> HostEvidence:
        return self.hosts[role]

    def to_dict(self) -> dict:
        out = {"format": FORMAT_VERSION, "lab": self.lab, "student": self.student,
               "uris": self.uris, "errors": self.errors, "hosts": {}}
        for role, host in self.hosts.items():
            out["hosts"][role] = _host_to_dict(host)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Evidence":
        hosts = {role: _host_from_dict(h) for role, h in data.get("hosts", {}).items()}
        return cls(lab=data["lab"], student=data["student"], hosts=hosts,
                   uris=data.get("uris", {}), errors=data.get("errors", {}))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def load(cls, path: str | Path) -> "Evidence":
        return cls.from_dict(json.loads(Path(path).read_text()))


def _host_to_dict(host: HostEvidence) -> dict:
    data = asdict(host)
    # Parsed facts for people reading the file; ignored when loading (the XML is the truth).
    data["facts"] = {
        "pools": {n: {"type": p.view.type, "target": p.view.target_path, "active": p.active,
                      "volumes": {v.name: {"format": v.view.format, "capacity": v.view.capacity,
                                           "allocation": v.view.allocation}
                                  for v in p.volumes.values()}}
                  for n, p in host.pools.items()},
        "domains": {n: {"state": d.state, "snapshots": {s.name: s.parent for s in d.snapshots.values()},
                        "current_snapshot": d.current_snapshot}
                    for n, d in host.domains.items()},
    }
    return data


def _host_from_dict(data: dict) -> HostEvidence:
    pools = {}
    for name, p in data.get("pools", {}).items():
        vols = {vn: VolumeEvidence(**v) for vn, v in p.get("volumes", {}).items()}
        pools[name] = PoolEvidence(**{**p, "volumes": vols})
    domains = {}
    for name, d in data.get("domains", {}).items():
        snaps = {sn: SnapshotEvidence(**s) for sn, s in d.get("snapshots", {}).items()}
        domains[name] = DomainEvidence(**{**d, "snapshots": snaps})
    keep = {k: data.get(k) for k in ("uri", "hostname", "host_uuid", "libvirt_version")}
    return HostEvidence(**keep, pools=pools, domains=domains,
                        libvirt_calls=data.get("libvirt_calls", 0))
