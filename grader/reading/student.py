"""One student's evidence: open each of the lab's roles read-only, collect each, close.

A host that cannot be read becomes part of the evidence (`errors`: unreachable or error, with
the reason in one line), never an exception: the caller scores it like any other evidence.
`post` tells the caller which phase the read is in (its deadline depends on it); `cancelled`
stops an abandoned read at its next libvirt call.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Mapping

from grader.core.evidence import Evidence
from grader.core.labdef import Lab
from grader.core.results import ERROR, UNREACHABLE
from grader.errors import HostUnreachable, LabError, one_line
from grader.reading import connection
from grader.reading.collect import Abandoned, collect_host
from grader.reading.limits import Limits

Post = Callable[[str, str | None], None]   # (phase, role)


@dataclass(frozen=True)
class Target:
    """Whose hosts to read: a student and the URI of each of their roles."""

    student: str
    hosts: Mapping[str, str]


def read_student(lab: Lab, target: Target, limits: Limits, post: Post | None = None,
                 cancelled: threading.Event | None = None, connections=None) -> Evidence:
    """Connect to every role, then collect each. `connections` (grader.reading.batch's cache)
    keeps connections open between reads, for a class watched live."""
    post = post or (lambda phase, role: None)
    evidence = Evidence(lab=lab.id, student=target.student, hosts={}, uris=dict(target.hosts))
    conns = {}
    try:
        for role in lab.roles:
            uri = target.hosts[role]
            post("connecting", role)
            try:
                conns[role] = (connections.get(uri, limits) if connections is not None
                               else connection.open_host(uri, limits))
            except HostUnreachable as err:
                evidence.errors[role] = {"kind": UNREACHABLE, "message": str(err)}
        post("reading", None)
        for role, conn in conns.items():
            if evidence.errors:
                break
            uri = target.hosts[role]
            try:
                evidence.hosts[role] = collect_host(uri, lab.scope, conn, limits.max_host_bytes, cancelled)
            except Abandoned:
                break
            except LabError as err:
                gone = connection.is_dead(conn)
                if connections is not None:
                    connections.forget(uri)
                kind = UNREACHABLE if gone else ERROR
                message = f"{uri} stopped answering: {err}" if gone else str(err)
                evidence.errors[role] = {"kind": kind, "message": one_line(message)}
    finally:
        if connections is None:
            for conn in conns.values():
                connection.close(conn)
    return evidence
