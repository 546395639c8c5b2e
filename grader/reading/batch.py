"""Reading many students' hosts at once, each within its own deadline; one student is a batch of one.

Reading a host is mostly waiting on the network, and the libvirt binding releases the GIL around
every call, so threads (many more than cores) are the right tool; `Limits.jobs` bounds them.
Each worker reads one student (grader.reading.student); the coordinator hands each evidence to
its caller as it arrives (grader.grading scores it there). Scoring in the workers was tried: 200
threads fighting over the GIL made a class 10 % slower, for nothing, since what one host may
serve is capped.

The coordinator keeps time. It drains every message that has arrived before it looks at
deadlines, so a student whose answer is already queued is never marked unreachable because
another host took long to process. A student past their deadline gets an `unreachable`
evidence saying which deadline passed; their worker is told to stop at its next libvirt call.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from grader.core.evidence import Evidence
from grader.core.labdef import Lab
from grader.core.results import ERROR, UNREACHABLE
from grader.errors import HostUnreachable, one_line
from grader.reading import connection
from grader.reading.limits import Limits
from grader.reading.student import Target, read_student


class ConnectionCache:
    """Connections kept open between reads (a class watched live), by URI.

    A dead connection (libvirt keepalive dropped it) is replaced on the next read. While an open
    of a URI hangs (a host that accepts and never answers), later reads of that URI fail at once
    instead of piling up more hung workers. `on_open(uri, conn)` is called with each new
    connection, in the worker that opened it and before any read uses it (a watch subscribes it
    to the host's events, grader.reading.events); whatever it raises is ignored.
    """

    def __init__(self, on_open: Callable[[str, object], object] | None = None):
        self._lock = threading.Lock()
        self._open: dict[str, object] = {}
        self._pending: set[str] = set()
        self._on_open = on_open

    def get(self, uri: str, limits: Limits):
        with self._lock:
            conn = self._open.get(uri)
            if conn is not None and not connection.is_dead(conn):
                return conn
            self._open.pop(uri, None)
            if uri in self._pending:
                raise HostUnreachable(f"no answer from {uri}: its previous connection attempt "
                                      "is still waiting")
            self._pending.add(uri)
        try:
            conn = connection.open_host(uri, limits)
            if self._on_open is not None:
                try:
                    self._on_open(uri, conn)
                except Exception:  # noqa: BLE001 - events are extra: the read goes on without them
                    pass
        finally:
            with self._lock:
                self._pending.discard(uri)
        with self._lock:
            self._open[uri] = conn
        return conn

    def forget(self, uri: str) -> None:
        with self._lock:
            conn = self._open.pop(uri, None)
        if conn is not None:
            connection.close(conn)

    def close(self) -> None:
        with self._lock:
            conns, self._open = list(self._open.values()), {}
        for conn in conns:
            connection.close(conn)

    def __len__(self) -> int:
        return len(self._open)


@dataclass
class _Running:
    """One student being read. Its worker says which phase the read is in by replacing `where`,
    one assignment (the coordinator never sees half of a change, and is not woken for it: a
    phase only ever moves a deadline later, so the coordinator reads `where` when it next looks
    at deadlines)."""

    target: Target
    started: float
    where: tuple[str, str | None, float]       # (phase, role, since when)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def deadline(self, limits: Limits) -> float:
        phase, _, since = self.where
        whole = self.started + limits.timeout
        if phase == "connecting":
            return min(whole, since + limits.connect_deadline)
        return whole

    def overdue_error(self, limits: Limits, roles: tuple[str, ...]) -> dict[str, dict]:
        phase, role, _ = self.where
        role = role or roles[0]
        uri = self.target.hosts.get(role, "?")
        if phase == "connecting":
            message = f"no answer from {uri} within {limits.connect_deadline:g} s of connecting (connect timeout)"
        else:
            message = f"{uri} did not finish answering within {limits.timeout:g} s (--timeout)"
        return {role: {"kind": UNREACHABLE, "message": message}}


def error_evidence(lab: Lab, target: Target, errors: dict[str, dict]) -> Evidence:
    return Evidence(lab=lab.id, student=target.student, hosts={}, uris=dict(target.hosts), errors=errors)


def read_many(lab: Lab, targets: Sequence[Target], limits: Limits,
              connections: ConnectionCache | None = None) -> Iterator[tuple[int, Evidence]]:
    """Read every target; yield (its index in `targets`, its evidence) as each arrives. A host
    that cannot be read, or misses its deadline, gives evidence that says so (`errors`).

    The caller may take its time with each evidence (score it, archive it): deadlines are
    judged only once every message that arrived meanwhile is drained."""
    connection.ensure_event_loop()
    inbox: queue.SimpleQueue = queue.SimpleQueue()     # (key, evidence) from the workers
    running: dict[int, _Running] = {}
    ready: deque[tuple[int, Evidence]] = deque()

    def start(key: int, target: Target) -> None:
        now = time.monotonic()
        state = running[key] = _Running(target, started=now, where=("connecting", None, now))

        def post(phase, role):
            state.where = (phase, role, time.monotonic())

        def work():
            try:
                evidence = read_student(lab, target, limits, post, state.cancelled, connections)
            except Exception as err:  # noqa: BLE001 - one student's crash is that student's result
                evidence = error_evidence(lab, target, {lab.roles[0]: {
                    "kind": ERROR, "message": one_line(f"{type(err).__name__}: {err}")}})
            if not state.cancelled.is_set():              # else the coordinator already answered
                inbox.put((key, evidence))

        threading.Thread(target=work, name=f"read-{target.student}"[:60], daemon=True).start()

    def arrived(key: int, evidence: Evidence) -> None:
        if running.pop(key, None) is not None:           # else late news of an abandoned student
            ready.append((key, evidence))

    def drain() -> None:
        while True:
            try:
                arrived(*inbox.get_nowait())
            except queue.Empty:
                return

    pending = deque(enumerate(targets))
    while pending or running or ready:
        while ready:           # the caller's time with each one is not the hosts' time
            yield ready.popleft()
            drain()
        while pending and len(running) < max(1, limits.jobs):
            start(*pending.popleft())
        if not running:
            continue
        next_due = min(r.deadline(limits) for r in running.values())
        try:
            arrived(*inbox.get(timeout=max(0.0, min(next_due - time.monotonic(), 3600))))
        except queue.Empty:
            pass
        drain()                # what arrived meanwhile, until none is waiting: only then deadlines
        now = time.monotonic()
        for key, state in list(running.items()):
            if now >= state.deadline(limits):
                state.cancelled.set()
                phase, role, _ = state.where
                if connections is not None and phase == "reading":
                    connections.forget(state.target.hosts.get(role or lab.roles[0], ""))
                del running[key]
                ready.append((key, error_evidence(lab, state.target, state.overdue_error(limits, lab.roles))))
