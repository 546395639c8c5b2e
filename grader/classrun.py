"""Grading a class: every student's hosts read concurrently, each bounded in time.

Reading a host is mostly waiting on the network, and the libvirt binding releases the GIL around
every call, so threads (many more than cores) are the right tool; `jobs` bounds them.

Bounding time is the hard part, because libvirt has no setting for it:

* Connecting: tcp and tls use a plain blocking connect, and a host that accepts the connection
  and then never answers blocks the open forever. So each open runs in its own daemon thread and
  the coordinator stops waiting at the connect deadline; the thread is abandoned (it dies with
  the process). For qemu+ssh, ssh itself is told to give up: the URI gets a `command=` wrapper
  that runs `ssh -o ConnectTimeout=N -o ServerAliveInterval=K -o BatchMode=yes` (libvirt's ssh
  transport runs `command` instead of `ssh` when the URI names one; BatchMode stops a password
  prompt from hanging the run).
* Reading: once open, the connection gets libvirt keepalive (`setKeepAlive`), which needs an
  event loop in the client: `virEventRegisterDefaultImpl` plus a daemon thread running
  `virEventRunDefaultImpl`. A host that stops answering mid-way is then dropped by libvirt after
  interval * (count + 1) seconds, and the whole-host deadline (`timeout`) bounds everything else.

A host that cannot be read makes that student `unreachable` (with the reason) or `error`; every
other student is graded. Results are handed to `on_result` as they arrive, so a caller can write
them to disk at once and keep nothing in memory but the small results.
"""
from __future__ import annotations

import os
import queue
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qsl, urlsplit

import libvirt

from grader.collect import collect_host, open_readonly
from grader.errors import HostUnreachable, LabError
from grader.evidence import Evidence
from grader.labdef import Lab
from grader.results import ERROR, UNREACHABLE, StudentResult
from grader.roster import Entry
from grader.scoring import score


@dataclass(frozen=True)
class Limits:
    jobs: int = 200                 # students read at once: threads mostly waiting on the network
    timeout: float = 20.0           # seconds for one student's hosts, connecting included
    connect_timeout: float = 5.0    # seconds for one open (never more than `timeout`)
    keepalive_interval: int = 2     # seconds between keepalive probes on an idle connection
    keepalive_count: int = 2        # unanswered probes before libvirt drops the connection

    @property
    def connect_deadline(self) -> float:
        return min(self.connect_timeout, self.timeout)


OnResult = Callable[[StudentResult, Evidence], None]


# --- the client event loop (keepalive needs it) ------------------------------------------------

_loop_lock = threading.Lock()
_loop_started = False


def ensure_event_loop() -> None:
    """Register libvirt's default event loop once and run it in a daemon thread."""
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run():
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _loop_started = True


# --- connecting -------------------------------------------------------------------------------

def ssh_wrapper(limits: Limits, folder: Path | None = None) -> Path:
    """A `command=` for libvirt's ssh transport: ssh with timeouts and no prompts."""
    folder = folder or Path(tempfile.gettempdir()) / f"lab-grader-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    alive = max(1, int(limits.keepalive_interval))
    script = ("#!/bin/sh\n"
              f"exec ssh -o ConnectTimeout={max(1, int(limits.connect_deadline))} "
              f"-o ServerAliveInterval={alive} -o ServerAliveCountMax={limits.keepalive_count} "
              "-o BatchMode=yes \"$@\"\n")
    path = folder / f"ssh-{max(1, int(limits.connect_deadline))}-{alive}-{limits.keepalive_count}"
    if not path.exists() or path.read_text() != script:
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(script)
        tmp.chmod(stat.S_IRWXU)
        tmp.replace(path)
    return path


def connect_uri(uri: str, limits: Limits, wrapper: Path | None = None) -> str:
    """The URI actually opened: qemu+ssh URIs get the ssh wrapper unless they name a command."""
    parts = urlsplit(uri)
    transport = parts.scheme.partition("+")[2]
    if transport != "ssh" or any(k == "command" for k, _ in parse_qsl(parts.query)):
        return uri
    wrapper = wrapper or ssh_wrapper(limits)
    return f"{uri}{'&' if parts.query else '?'}command={wrapper}"


def open_bounded(uri: str, limits: Limits):
    """Open read-only and turn keepalive on (where the driver has it). Blocking: run in a worker."""
    conn = open_readonly(connect_uri(uri, limits))
    try:
        conn.setKeepAlive(limits.keepalive_interval, limits.keepalive_count)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:  # local drivers have no keepalive
            conn.close()
            raise HostUnreachable(f"cannot use {uri}: {' '.join(str(err).split())}") from None
    return conn


# --- one student ------------------------------------------------------------------------------

def _read_student(lab: Lab, entry: Entry, limits: Limits, post) -> Evidence:
    """Connect to every role, then collect; the coordinator learns each phase through `post`."""
    evidence = Evidence(lab=lab.id, student=entry.student, hosts={}, uris=dict(entry.hosts))
    conns = {}
    try:
        for role in lab.roles:
            post("connecting", entry.student, role)
            try:
                conns[role] = open_bounded(entry.hosts[role], limits)
            except HostUnreachable as err:
                evidence.errors[role] = {"kind": UNREACHABLE, "message": str(err)}
        post("reading", entry.student, None)
        for role, conn in conns.items():
            if evidence.errors:
                break
            try:
                evidence.hosts[role] = collect_host(entry.hosts[role], lab.scope, conn=conn)
            except LabError as err:
                gone = _is_dead(conn)
                kind = UNREACHABLE if gone else ERROR
                message = f"{entry.hosts[role]} stopped answering: {err}" if gone else str(err)
                evidence.errors[role] = {"kind": kind, "message": message}
    finally:
        for conn in conns.values():
            try:
                conn.close()
            except libvirt.libvirtError:
                pass
    return evidence


def _is_dead(conn) -> bool:
    try:
        return conn.isAlive() != 1
    except libvirt.libvirtError:
        return True


# --- the class --------------------------------------------------------------------------------

@dataclass
class _Running:
    entry: Entry
    started: float
    phase: str = "connecting"
    role: str | None = None
    phase_started: float = 0.0
    due: float = 0.0              # deadline(limits), kept current by the coordinator

    def deadline(self, limits: Limits) -> float:
        whole = self.started + limits.timeout
        if self.phase == "connecting":
            return min(whole, self.phase_started + limits.connect_deadline)
        return whole

    def overdue_error(self, limits: Limits, lab: Lab) -> dict[str, dict]:
        role = self.role or lab.roles[0]
        uri = self.entry.hosts.get(role, "?")
        if self.phase == "connecting":
            seconds = min(limits.connect_deadline, limits.timeout)
            message = f"no answer from {uri} within {seconds:g} s of connecting (connect timeout)"
        else:
            message = f"{uri} did not finish answering within {limits.timeout:g} s (--timeout)"
        return {role: {"kind": UNREACHABLE, "message": message}}


def grade_class(lab: Lab, entries: list[Entry] | tuple[Entry, ...], limits: Limits = Limits(),
                lang: str = "en", only: list[str] | None = None,
                on_result: OnResult | None = None) -> list[StudentResult]:
    """Grade every entry; results come back in roster order, each also passed to `on_result`."""
    ensure_event_loop()
    inbox: queue.Queue = queue.Queue()
    waiting = list(entries)
    running: dict[str, _Running] = {}
    results: dict[str, StudentResult] = {}

    def finish(student: str, evidence: Evidence) -> None:
        result = score(lab, evidence, lang, only)
        results[student] = result
        running.pop(student, None)
        if on_result:
            on_result(result, evidence)

    def start(entry: Entry) -> None:
        now = time.monotonic()
        state = _Running(entry, started=now, phase_started=now)
        state.due = state.deadline(limits)
        running[entry.student] = state

        def work():
            def post(phase, student, role):
                inbox.put(("phase", student, (phase, role, time.monotonic())))
            try:
                evidence = _read_student(lab, entry, limits, post)
            except Exception as err:  # noqa: BLE001 - one student's crash is that student's result
                evidence = Evidence(lab=lab.id, student=entry.student, hosts={}, uris=dict(entry.hosts),
                                    errors={lab.roles[0]: {"kind": ERROR,
                                                           "message": f"{type(err).__name__}: {err}"}})
            inbox.put(("done", entry.student, evidence))

        threading.Thread(target=work, name=f"grade-{entry.student}", daemon=True).start()

    while waiting or running:
        while waiting and len(running) < max(1, limits.jobs):
            start(waiting.pop(0))
        next_deadline = min(r.due for r in running.values())
        try:
            kind, student, payload = inbox.get(timeout=max(0.0, next_deadline - time.monotonic()))
        except queue.Empty:
            kind = None
        if kind == "phase" and student in running:
            phase, role, at = payload
            state = running[student]
            state.phase, state.role, state.phase_started = phase, role, at
            state.due = state.deadline(limits)
        elif kind == "done" and student in running:
            finish(student, payload)
        now = time.monotonic()
        if running and now < next_deadline:
            continue
        for student, state in list(running.items()):
            if now >= state.due:  # abandon: the thread is a daemon, its result ignored
                entry = state.entry
                finish(student, Evidence(lab=lab.id, student=student, hosts={}, uris=dict(entry.hosts),
                                         errors=state.overdue_error(limits, lab)))
    return [results[e.student] for e in entries]
