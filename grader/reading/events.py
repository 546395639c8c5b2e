"""Listening, read-only, to what libvirt says happens on a watched class's hosts (grade --watch).

A watch keeps one read-only connection per host open between polls (batch.ConnectionCache);
each new one (the first, and the one after a reconnect) is subscribed here, by the worker that
opened it, so a host that hangs while it is subscribed costs that worker its deadline and
nobody else anything. A read-only connection is told of (measured on libvirt 9.0 lab hosts;
docs/instructor.md, "Watching the class live"): domain lifecycle (with its detail: booted,
migrated, from-snapshot...), completed jobs (a migration out), block jobs, metadata changes,
storage pool lifecycle and refreshes. Taking a snapshot is no event of its own.

libvirt calls back in its event loop thread (connection.ensure_event_loop), the one that keeps
every connection alive: a callback only turns what came into plain records (grader.core.events)
and queues them, catches everything, and calls the host nothing. The watch takes the queue after
each poll (`drain`). Bounds: host text is cut to TEXT_LIMIT characters; only the lab's scope is
kept; a host that sends more than `flood` events between two polls is not listened to any more
until it is reconnected (what it sends meanwhile is only counted).
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Callable, Iterable

import libvirt

from grader.core.events import TEXT_LIMIT, Event
from grader.core.labdef import Scope

#: Events one host may send between two polls before the watch stops listening to it.
FLOOD = 500

LIFECYCLE = ("defined", "undefined", "started", "suspended", "resumed", "stopped", "shutdown",
             "pmsuspended", "crashed")


def _words(prefix: str, skip: tuple[str, ...] = ()) -> dict[int, str]:
    """libvirt's constants named PREFIX_X as {value: 'x'} (STARTED_FROM_SNAPSHOT: 'from-snapshot')."""
    return {getattr(libvirt, name): name[len(prefix):].lower().replace("_", "-")
            for name in dir(libvirt)
            if name.startswith(prefix) and not name.endswith("_LAST") and not name[len(prefix):].startswith(skip)
            and isinstance(getattr(libvirt, name), int)}


EVENT_WORDS = {getattr(libvirt, f"VIR_DOMAIN_EVENT_{word.upper()}"): word for word in LIFECYCLE}
DETAIL_WORDS = {word: _words(f"VIR_DOMAIN_EVENT_{word.upper()}_") for word in LIFECYCLE}
POOL_WORDS = _words("VIR_STORAGE_POOL_EVENT_", skip=("ID_",))
JOB_OPERATIONS = _words("VIR_DOMAIN_JOB_OPERATION_")
BLOCK_JOB_TYPES = _words("VIR_DOMAIN_BLOCK_JOB_TYPE_")
BLOCK_JOB_STATUS = {libvirt.VIR_DOMAIN_BLOCK_JOB_COMPLETED: "completed", libvirt.VIR_DOMAIN_BLOCK_JOB_FAILED: "failed",
                    libvirt.VIR_DOMAIN_BLOCK_JOB_CANCELED: "cancelled", libvirt.VIR_DOMAIN_BLOCK_JOB_READY: "ready"}
METADATA = {libvirt.VIR_DOMAIN_METADATA_DESCRIPTION: "description", libvirt.VIR_DOMAIN_METADATA_TITLE: "title"}


def _word(table: dict[int, str], value) -> str:
    return table.get(value, f"#{value}" if isinstance(value, int) else "?")


def _text(value) -> str:
    return str(value)[:TEXT_LIMIT] if value is not None else ""


class EventListener:
    """The subscriptions of a watch: which students (and roles) each URI is, what their hosts
    said since the last drain, and which hosts flooded."""

    def __init__(self, owners: dict[str, list[tuple[str, str]]], scope: Scope, flood: int = FLOOD,
                 clock: Callable[[], float] = time.time):
        self.owners, self.scope, self.flood, self.clock = owners, scope, flood, clock
        self._lock = threading.Lock()
        self._queue: list[Event] = []
        self._heard: Counter = Counter()          # per URI, since the last drain
        self._dropped: Counter = Counter()        # per student, since the last drain
        self._quiet: set[str] = set()             # URIs not listened to any more (a flood)
        self._unsubscribe: list[tuple[object, list]] = []
        self._subscribed: dict[str, tuple[object, list]] = {}

    @classmethod
    def for_targets(cls, targets: Iterable, roles: tuple[str, ...], scope: Scope, **options) -> "EventListener":
        owners: dict[str, list[tuple[str, str]]] = {}
        for target in targets:
            for role in roles:
                if role in target.hosts:
                    owners.setdefault(target.hosts[role], []).append((target.student, role))
        return cls(owners, scope, **options)

    # -- subscribing (a worker, right after it opened a connection) ---------------------------------

    def subscribe(self, uri: str, conn) -> int:
        """Listen to `conn` (a new connection to `uri`); how many subscriptions libvirt took. A
        kind of event the host does not offer is not heard; nothing here fails the read."""
        taken = []
        wanted = []
        if self.scope.domains != frozenset():
            wanted += [("domain", libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._lifecycle),
                       ("domain", libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, self._job),
                       ("domain", libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2, self._block_job),
                       ("domain", libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, self._metadata)]
        if self.scope.pools != frozenset():
            wanted += [("pool", libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, self._pool),
                       ("pool", libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH, self._refresh)]
        for kind, event_id, callback in wanted:
            register = conn.domainEventRegisterAny if kind == "domain" else conn.storagePoolEventRegisterAny
            try:
                taken.append((kind, register(None, event_id, callback, uri)))
            except libvirt.libvirtError:
                continue
        with self._lock:
            self._subscribed[uri] = (conn, taken)
            self._quiet.discard(uri)               # a new connection: listened to again
            self._heard.pop(uri, None)
        return len(taken)

    # -- what libvirt calls, in its event loop thread -------------------------------------------------

    def _lifecycle(self, _conn, dom, event, detail, uri) -> None:
        try:
            word = EVENT_WORDS.get(event, f"#{event}")
            self._heard_of(uri, "domain", dom.name(), word, _word(DETAIL_WORDS.get(word, {}), detail))
        except Exception:  # noqa: BLE001 - nothing a host sends may raise into libvirt's loop
            pass

    def _job(self, _conn, dom, params, uri) -> None:
        try:
            operation = params.get(libvirt.VIR_DOMAIN_JOB_OPERATION) if isinstance(params, dict) else None
            self._heard_of(uri, "domain", dom.name(), "job-completed",
                           _word(JOB_OPERATIONS, operation) if operation is not None else "")
        except Exception:  # noqa: BLE001
            pass

    def _block_job(self, _conn, dom, _disk, kind, status, uri) -> None:
        try:
            self._heard_of(uri, "domain", dom.name(), "block-job",
                           f"{_word(BLOCK_JOB_TYPES, kind)}-{_word(BLOCK_JOB_STATUS, status)}")
        except Exception:  # noqa: BLE001
            pass

    def _metadata(self, _conn, dom, mtype, nsuri, uri) -> None:
        try:
            self._heard_of(uri, "domain", dom.name(), "metadata-changed", METADATA.get(mtype) or _text(nsuri))
        except Exception:  # noqa: BLE001
            pass

    def _pool(self, _conn, pool, event, _detail, uri) -> None:
        try:
            self._heard_of(uri, "pool", pool.name(), _word(POOL_WORDS, event), "")
        except Exception:  # noqa: BLE001
            pass

    def _refresh(self, _conn, pool, uri) -> None:
        try:
            self._heard_of(uri, "pool", pool.name(), "refreshed", "")
        except Exception:  # noqa: BLE001
            pass

    def _heard_of(self, uri: str, kind: str, name, event: str, detail: str) -> None:
        """One event from `uri`: queued for each student it belongs to, unless out of the lab's
        scope, or the host has flooded."""
        owners = self.owners.get(uri, ())
        with self._lock:
            if uri in self._quiet:
                for student, _ in owners:
                    self._dropped[student] += 1
                return
            self._heard[uri] += 1
            if self._heard[uri] > self.flood:
                self._quiet.add(uri)
                if uri in self._subscribed:
                    self._unsubscribe.append(self._subscribed.pop(uri))
                for student, _ in owners:
                    self._dropped[student] += 1
                return
        name = _text(name)
        if not (self.scope.wants_domain(name) if kind == "domain" else self.scope.wants_pool(name)):
            return
        at = self.clock()
        records = [Event(student, role, kind, name, event, detail, at) for student, role in owners]
        with self._lock:
            self._queue.extend(records)

    # -- the watch, after each poll -------------------------------------------------------------------

    def drain(self) -> tuple[list[Event], dict[str, int]]:
        """What was heard since the last drain, and how many events each student's hosts sent
        that were not kept (a flood). A flooding host's subscriptions are dropped, in the
        background (a hostile host may not answer)."""
        with self._lock:
            events, self._queue = self._queue, []
            dropped, self._dropped = dict(self._dropped), Counter()
            self._heard.clear()
            leaving, self._unsubscribe = self._unsubscribe, []
        for conn, taken in leaving:
            threading.Thread(target=_unsubscribe, args=(conn, taken), name="events-unsubscribe", daemon=True).start()
        return events, dropped

    def close(self) -> None:
        """Forget every subscription (the connections are closed by their cache)."""
        with self._lock:
            self._subscribed.clear()
            self._queue = []


def _unsubscribe(conn, taken: list) -> None:
    for kind, callback_id in taken:
        try:
            if kind == "domain":
                conn.domainEventDeregisterAny(callback_id)
            else:
                conn.storagePoolEventDeregisterAny(callback_id)
        except libvirt.libvirtError:
            pass
