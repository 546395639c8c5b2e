"""Watching a class live (`grade LAB --roster R --watch`): poll every host read-only until stopped.

Connections stay open between polls (grader.reading.batch.ConnectionCache: a host that went away
is reconnected when it comes back), so a poll costs the reads alone. Each connection is also
subscribed, read-only, to the host's events (grader.reading.events): what libvirt says happened
between two polls is recorded per student with the poll. Each poll's results and events update
the timeline (grader.core.timeline); the caller shows the changes (a live table, or one line per
change) and, when asked, serves a page for the classroom screen. On stop (Ctrl-C, SIGTERM) the run
directory is written as for a normal class run, from the last poll, plus timeline.json.
"""
from __future__ import annotations

import json
import resource
import threading
import time
from typing import Callable

from grader import render
from grader.classroom import archive
from grader.classroom.session import archived, write_reports
from grader.core import copies
from grader.core.evidence import Evidence
from grader.core.labdef import Lab
from grader.core.results import GRADED, LabRun, StudentResult
from grader.core.timeline import Change, Timeline
from grader.reading.limits import Limits

TIMELINE_FILE = "timeline.json"


def allow_connections(count: int) -> None:
    """Each kept connection is a socket: raise the soft open-files limit to what it takes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * count + 256))
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


class Watch:
    """A class (or one student) polled read-only, keeping the last results and evidence."""

    def __init__(self, lab: Lab, targets, limits: Limits, lang: str, only: list[str] | None = None,
                 clock: Callable[[], float] = time.time, expected: dict | None = None):
        from grader.reading.batch import ConnectionCache
        from grader.reading.events import EventListener

        self.lab, self.targets, self.limits, self.lang, self.only = lab, list(targets), limits, lang, only
        self.expected = expected or {}
        self.clock = clock
        self.events = EventListener.for_targets(self.targets, lab.roles, lab.scope, clock=clock)
        self.connections = ConnectionCache(on_open=self.events.subscribe)
        exercises = [e.id for e in lab.exercises if not only or e.id in only]
        self.timeline = Timeline([t.student for t in self.targets], exercises, clock())
        self.results: dict[str, StudentResult] = {}
        self.evidence: dict[str, Evidence] = {}
        self.lock = threading.Lock()        # the page server reads while a poll writes
        allow_connections(sum(len(t.hosts) for t in self.targets))

    def poll(self) -> list[Change]:
        from grader import grading

        def keep(result: StudentResult, evidence: Evidence) -> StudentResult:
            self.evidence[result.student] = evidence
            return result

        results = grading.grade_many(self.lab, self.targets, self.limits, self.lang, self.only, keep,
                                     self.connections, self.expected)
        events, dropped = self.events.drain()
        with self.lock:
            self.results = {r.student: r for r in results}
            self.timeline.record(events, dropped)
            return self.timeline.update(results, self.clock())

    def run(self) -> LabRun:
        """The last poll as a class run (what the archive holds), copies included."""
        with self.lock:
            results = [self.results[t.student] for t in self.targets if t.student in self.results]
            found = copies.find({s: _signals(e) for s, e in self.evidence.items()})
        return LabRun(self.lab.id, self.lab.max_score, self.lang, results, found)

    def close(self) -> None:
        self.events.close()
        self.connections.close()


def _signals(evidence: Evidence) -> set:
    try:
        return copies.signals(evidence)
    except Exception:  # noqa: BLE001 - unreadable XML: that student's error already says so
        return set()


def loop(watch: Watch, interval: float, on_poll: Callable[[list[Change]], None],
         stop: threading.Event) -> None:
    """Poll every `interval` seconds until `stop` is set (or Ctrl-C arrives)."""
    while not stop.is_set():
        began = time.monotonic()
        on_poll(watch.poll())
        stop.wait(max(0.0, interval - (time.monotonic() - began)))


def archive_watch(watch: Watch, target: archive.RunDir, meta: dict, emails: dict,
                  names: dict | None = None) -> tuple[LabRun, list[str]]:
    """The run directory of a watched session: the last poll's evidence and results, every
    report (with the timeline and the events seen), timeline.json and run.json."""
    run = watch.run()
    for result in run.results:
        archived(target, watch.lab, result, watch.evidence[result.student])
    problems = write_reports(target, render.Report(run, watch.lab, emails, timeline=watch.timeline,
                                                       names=names or {}))
    target.write_report(TIMELINE_FILE, json.dumps(watch.timeline.to_dict(), indent=1, ensure_ascii=False))
    target.write_meta({**meta, "state": "complete", "finished": time.time(), "polls": watch.timeline.polls,
                       "graded": sum(r.status == GRADED for r in run.results),
                       "not_graded": sum(r.status != GRADED for r in run.results)})
    return run, problems
