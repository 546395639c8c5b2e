"""The timeline of a watched session: when each student's exercises changed, passed, regressed.

Pure: results in (one poll's), changes out. Times are seconds since the epoch inside, ISO 8601
with the machine's time zone in timeline.json and on screen. What the class report draws from it
(cumulative passes, median time to pass, where students spent longest) is computed here too.
The events the watch saw on each student's hosts (grader.core.events) are kept here as well,
bounded per student.
"""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from grader.core.events import Event, StudentEvents
from grader.core.results import GRADED, StudentResult

PASSED, PARTIAL, FAILED = "passed", "partial", "failed"
#: The events kept per student (the latest): a host that floods the watch costs a bounded memory.
EVENTS_KEPT = 500


def iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")


def parse_iso(text: str | None) -> float | None:
    return None if text is None else datetime.fromisoformat(text).timestamp()


@dataclass
class ExerciseTrack:
    state: str | None = None          # passed | partial | failed (None: never graded yet)
    score: float | None = None
    since: float | None = None        # when it took its current state
    first_passed: float | None = None
    last_change: float | None = None
    regressed: bool = False


@dataclass
class StudentTrack:
    status: str | None = None         # graded | unreachable | error (the last poll's)
    since: float | None = None
    last_progress: float | None = None  # the last time any exercise changed
    exercises: dict[str, ExerciseTrack] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    at: float
    student: str
    what: str                         # an exercise id, or "host" for the student's status
    old: str | None
    new: str

    def line(self) -> str:
        return f"{iso(self.at)} {self.student} {self.what}: {self.old or 'new'} → {self.new}"


def state_of(score: float, max_score: int) -> str:
    return PASSED if score == max_score else (PARTIAL if score else FAILED)


class Timeline:
    def __init__(self, students: list[str], exercises: list[str], started: float, keep: int = EVENTS_KEPT):
        self.started, self.polls, self.exercises = started, 0, exercises
        self.students = {s: StudentTrack() for s in students}
        self.keep = keep
        self.events: dict[str, StudentEvents] = {}

    def update(self, results: list[StudentResult], at: float) -> list[Change]:
        """One poll's results: what changed since the last poll."""
        self.polls += 1
        changes = []
        for result in results:
            track = self.students.setdefault(result.student, StudentTrack())
            if track.status != result.status:
                if track.status is not None or result.status != GRADED:
                    changes.append(Change(at, result.student, "host", track.status, result.status))
                track.status, track.since = result.status, at
            if result.status != GRADED:
                continue                  # a host that went away keeps its exercises' states
            for ex in result.exercises:
                ex_track = track.exercises.setdefault(ex.id, ExerciseTrack())
                new = state_of(ex.score, ex.max_score)
                if ex_track.score != ex.score:
                    if ex_track.state is not None or new != FAILED:
                        changes.append(Change(at, result.student, ex.id, ex_track.state, new))
                        track.last_progress = at
                    if ex_track.state == PASSED and new != PASSED:
                        ex_track.regressed = True
                    if new == PASSED and ex_track.first_passed is None:
                        ex_track.first_passed = at
                    ex_track.state, ex_track.score, ex_track.since = new, ex.score, at
                    ex_track.last_change = at
        return changes

    def record(self, events: list[Event], dropped: dict[str, int] | None = None) -> None:
        """Events seen since the last poll (and how many each student's hosts sent that were not
        even handed over: a flood), kept per student, the latest `keep`."""
        for event in events:
            self._events(event.student).add(event)
        for student, count in (dropped or {}).items():
            if count:
                self._events(student).dropped += count

    def _events(self, student: str) -> StudentEvents:
        if student not in self.events:
            self.events[student] = StudentEvents(self.keep)
        return self.events[student]

    def events_of(self, student: str) -> list[Event]:
        kept = self.events.get(student)
        return kept.events if kept else []

    # -- what the report and the page show ---------------------------------------------------------

    def passed_counts(self) -> dict[str, int]:
        return {ex: sum(1 for t in self.students.values()
                        if t.exercises.get(ex) and t.exercises[ex].state == PASSED) for ex in self.exercises}

    def idle(self, student: str, now: float) -> float:
        """Seconds since the student last made progress (since the start if never)."""
        track = self.students[student]
        return now - (track.last_progress or self.started)

    def cumulative(self, exercise: str) -> list[float]:
        """When each student first passed `exercise`, in order: the cumulative pass curve."""
        return sorted(t.exercises[exercise].first_passed for t in self.students.values()
                      if exercise in t.exercises and t.exercises[exercise].first_passed is not None)

    def median_time_to_pass(self, exercise: str) -> float | None:
        times = [at - self.started for at in self.cumulative(exercise)]
        return statistics.median(times) if times else None

    def longest(self) -> tuple[str, int] | None:
        """The exercise most students spent longest on (time from their previous pass, or the
        start, to its first pass), and how many students that is."""
        counts: Counter = Counter()
        for track in self.students.values():
            passed = sorted((t.first_passed, ex) for ex, t in track.exercises.items() if t.first_passed is not None)
            spans, before = [], self.started
            for at, ex in passed:
                spans.append((at - before, ex))
                before = at
            if spans:
                counts[max(spans)[1]] += 1
        return counts.most_common(1)[0] if counts else None

    def to_dict(self) -> dict:
        """timeline.json: {"started", "polls", "students": {student: {exercise: {"first_passed",
        "last_change", "regressed"}}}, "events": {student: {"seen": [{"role", "kind", "object",
        "event", "detail", "at"[, "count", "last"]}], "dropped": N}}} (times as ISO 8601)."""
        return {"started": iso(self.started), "polls": self.polls,
                "students": {s: {ex: {"first_passed": iso(t.first_passed),
                                      "last_change": iso(t.last_change or self.started),
                                      "regressed": t.regressed}
                                 for ex, t in ((ex, track.exercises.get(ex, ExerciseTrack())) for ex in self.exercises)}
                             for s, track in self.students.items()},
                "events": {s: {"seen": [{**e.to_dict(), "at": iso(e.at), **({"last": iso(e.last)} if e.last else {})}
                                        for e in kept.events], "dropped": kept.dropped}
                           for s, kept in self.events.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "Timeline":
        """A timeline read back from timeline.json (the class report of a watched run)."""
        students = list(data.get("students", {}))
        exercises = list(next(iter(data["students"].values()), {})) if students else []
        timeline = cls(students, exercises, parse_iso(data["started"]))
        timeline.polls = data.get("polls", 0)
        for student, exercises_data in data.get("students", {}).items():
            for ex, item in exercises_data.items():
                first = parse_iso(item.get("first_passed"))
                timeline.students[student].exercises[ex] = ExerciseTrack(
                    state=PASSED if first is not None and not item.get("regressed") else None,
                    first_passed=first, last_change=parse_iso(item.get("last_change")),
                    regressed=bool(item.get("regressed")))
        for student, kept in data.get("events", {}).items():
            timeline.record([Event.from_dict(student, {**e, "at": parse_iso(e["at"]), "last": parse_iso(e.get("last"))})
                             for e in kept.get("seen", [])], {student: kept.get("dropped", 0)})
        return timeline
