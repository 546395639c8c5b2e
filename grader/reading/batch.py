"""Reading many students' hosts at once, each within its own deadline; one student is a batch of one.

Reading a host is mostly waiting on the network, and the libvirt binding releases the GIL around
every call, so threads (many more than cores) are the right tool; `Limits.jobs` bounds them.
Each worker reads one student (grader.reading.student); the coordinator processes (scores) each
evidence as it arrives. Scoring in the workers was tried: 200 threads fighting over the GIL made
a class 10 % slower, for nothing, since what one host may serve is capped.

The coordinator keeps time. It drains every message that has arrived before it looks at
deadlines, so a student whose answer is already queued is never marked unreachable because
another host took long to process. A student past their deadline gets an `unreachable`
evidence saying which deadline passed; their worker is told to stop at its next libvirt call.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence, TypeVar

from grader.core.evidence import Evidence
from grader.core.labdef import Lab
from grader.core.results import ERROR, UNREACHABLE, StudentResult
from grader.core.scoring import score
from grader.errors import HostUnreachable, one_line
from grader.reading import connection
from grader.reading.limits import Limits
from grader.reading.student import Target, read_student

T = TypeVar("T")


class ConnectionCache:
    """Connections kept open between reads (a class watched live), by URI.

    A dead connection (libvirt keepalive dropped it) is replaced on the next read. While an open
    of a URI hangs (a host that accepts and never answers), later reads of that URI fail at once
    instead of piling up more hung workers.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._open: dict[str, object] = {}
        self._pending: set[str] = set()

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
    target: Target
    started: float
    cancelled: threading.Event = field(default_factory=threading.Event)
    phase: str = "connecting"
    role: str | None = None
    phase_started: float = 0.0
    due: float = 0.0              # when it is overdue, kept current by the coordinator

    def deadline(self, limits: Limits) -> float:
        whole = self.started + limits.timeout
        if self.phase == "connecting":
            return min(whole, self.phase_started + limits.connect_deadline)
        return whole

    def overdue_error(self, limits: Limits, roles: tuple[str, ...]) -> dict[str, dict]:
        role = self.role or roles[0]
        uri = self.target.hosts.get(role, "?")
        if self.phase == "connecting":
            message = f"no answer from {uri} within {limits.connect_deadline:g} s of connecting (connect timeout)"
        else:
            message = f"{uri} did not finish answering within {limits.timeout:g} s (--timeout)"
        return {role: {"kind": UNREACHABLE, "message": message}}


def error_evidence(lab: Lab, target: Target, errors: dict[str, dict]) -> Evidence:
    return Evidence(lab=lab.id, student=target.student, hosts={}, uris=dict(target.hosts), errors=errors)


def read_many(lab: Lab, targets: Sequence[Target], limits: Limits,
              process: Callable[[Evidence], T], connections: ConnectionCache | None = None) -> list[T]:
    """Read every target; `process` each evidence in the calling thread as it arrives, and keep
    what it returns (a small result, not every host's evidence). Returns those, in target order.

    A `process` that raises for one student processes that student's error instead."""
    connection.ensure_event_loop()
    inbox: queue.Queue = queue.Queue()
    running: dict[str, _Running] = {}
    done: dict[str, T] = {}

    def safe(target: Target, evidence: Evidence) -> T:
        try:
            return process(evidence)
        except Exception as err:  # noqa: BLE001 - one student's crash is that student's result
            message = one_line(f"could not process what the host sent: {type(err).__name__}: {err}")
            return process(error_evidence(lab, target, {lab.roles[0]: {"kind": ERROR, "message": message}}))

    def deliver(key: str, evidence: Evidence) -> None:
        state = running.pop(key)
        done[key] = safe(state.target, evidence)

    def start(index: int, target: Target) -> None:
        key = f"{index}"
        now = time.monotonic()
        state = _Running(target, started=now, phase_started=now)
        state.due = state.deadline(limits)
        running[key] = state

        def post(phase, role):
            inbox.put(("phase", key, (phase, role, time.monotonic())))

        def work():
            try:
                evidence = read_student(lab, target, limits, post, state.cancelled, connections)
            except Exception as err:  # noqa: BLE001 - one student's crash is that student's result
                evidence = error_evidence(lab, target, {lab.roles[0]: {
                    "kind": ERROR, "message": one_line(f"{type(err).__name__}: {err}")}})
            if not state.cancelled.is_set():              # else the coordinator already answered
                inbox.put(("done", key, evidence))

        threading.Thread(target=work, name=f"read-{target.student}"[:60], daemon=True).start()

    def handle(kind: str, key: str, payload) -> None:
        if key not in running:
            return                                       # late news of an abandoned student
        if kind == "phase":
            phase, role, at = payload
            state = running[key]
            state.phase, state.role, state.phase_started = phase, role, at
            state.due = state.deadline(limits)
        else:
            deliver(key, payload)

    order = [f"{i}" for i in range(len(targets))]
    pending = list(enumerate(targets))
    while pending or running:
        while pending and len(running) < max(1, limits.jobs):
            start(*pending.pop(0))
        next_due = min(r.due for r in running.values())
        try:
            handle(*inbox.get(timeout=max(0.0, min(next_due - time.monotonic(), 3600))))
        except queue.Empty:
            pass
        while True:            # process what arrived while processing, until none is waiting:
            try:               # only then judge deadlines
                handle(*inbox.get_nowait())
            except queue.Empty:
                break
        now = time.monotonic()
        for key, state in list(running.items()):
            if now >= state.due:
                state.cancelled.set()
                if connections is not None and state.phase == "reading":
                    connections.forget(state.target.hosts.get(state.role or lab.roles[0], ""))
                deliver(key, error_evidence(lab, state.target, state.overdue_error(limits, lab.roles)))
    return [done[key] for key in order]


#: Called with each result and its evidence as they arrive; returns the result to keep (the
#: same one, or one that says what went wrong while handling it, e.g. archiving).
OnGraded = Callable[[StudentResult, Evidence], StudentResult]


def grade(lab: Lab, targets: Sequence[Target], limits: Limits = Limits(), lang: str = "en",
          only: list[str] | None = None, on_graded: OnGraded | None = None,
          connections: ConnectionCache | None = None) -> list[StudentResult]:
    """Read and score every target; results in target order, each result with its evidence also
    handed to `on_graded` as it arrives (to be archived at once)."""

    def process(evidence: Evidence) -> StudentResult:
        result = score(lab, evidence, lang, only)
        return on_graded(result, evidence) if on_graded else result

    return read_many(lab, targets, limits, process, connections)
