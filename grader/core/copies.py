"""Copied hosts: students whose hosts carry the same identity, the signs of a copied VM image or disk.

Each student's evidence gives identifiers that `lab start` or libvirt make unique per host: the
libvirt host UUID, the lab nonce `lab start` put on each domain, domain UUIDs, volume keys and
MAC addresses. Two students sharing one of them did not each prepare their own host. This is for
the instructor's eyes (results.json, the summary, the class report); it never changes a score and
never appears in a student's own feedback.

What is shared by construction is left out: a volume key that is a path (libvirt's key for dir and
netfs volumes is the file's path, the same on every student's host), and the host UUID of
libvirt's test driver (it reports none). The same student's own roles (lab4's A and B) are one
student: a domain that migrated from A to B is not a copy.
"""
from __future__ import annotations

from collections import defaultdict

from grader.core.evidence import Evidence

KINDS = ("host UUID", "lab nonce", "domain UUID", "volume key", "MAC address")


def signals(evidence: Evidence) -> set[tuple[str, str]]:
    """The identifiers of one student's hosts, as (kind, value)."""
    found: set[tuple[str, str]] = set()
    for host in evidence.hosts.values():
        if host.host_uuid:
            found.add(("host UUID", host.host_uuid.lower()))
        for dom in host.domains.values():
            found.add(("domain UUID", dom.uuid.lower()))
            for view in filter(None, (dom.view, dom.inactive_view)):
                if view.lab_metadata is not None and view.lab_metadata.nonce:
                    found.add(("lab nonce", view.lab_metadata.nonce))
                found.update(("MAC address", mac.lower()) for mac in view.macs)
        for pool in host.pools.values():
            for vol in pool.volumes.values():
                key = vol.view.key
                if key and not key.startswith("/"):
                    found.add(("volume key", key))
    return found


def find(by_student: dict[str, set[tuple[str, str]]]) -> list[dict]:
    """Groups of students linked by shared identifiers (connected: if ana shares a disk with ben
    and ben a host with eve, the three are one group): [{"students": [...], "reason": "..."}].
    The reason names each shared identifier, and who shares it when not the whole group."""
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for student, found in by_student.items():
        for signal in found:
            holders[signal].add(student)
    shared = {signal: students for signal, students in holders.items() if len(students) > 1}
    group_of = {s: {s} for students in shared.values() for s in students}
    for students in shared.values():                 # merge every group a signal touches
        merged = set().union(*(group_of[s] for s in students))
        for s in merged:
            group_of[s] = merged
    out = []
    for group in sorted({frozenset(g) for g in group_of.values()}, key=sorted):
        parts = []
        for kind in KINDS:
            for (k, value), students in sorted(shared.items()):
                if k == kind and students <= group:
                    who = "" if students == group else f" ({', '.join(sorted(students))})"
                    parts.append(f"same {kind} {value}{who}")
        out.append({"students": sorted(group), "reason": "; ".join(parts)})
    return out
