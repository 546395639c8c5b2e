"""What a watch saw happening on students' hosts: libvirt's events as plain records, and which of
them explain which exercise.

Pure: no libvirt. grader.reading.events turns what libvirt delivers to a read-only connection
into `Event`s (the words below); each lab says, in a table of `Explains` lines beside its SCOPE
(names.py's EVENTS), which events explain which of its exercises; `seen` picks them for one
student's exercise and tells a migration (its two halves on two hosts) as one story.

Events are evidence of what happened only while someone was watching: a one-shot `grade` sees
none, a missed event proves nothing, and no event ever changes a score.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

#: The words a domain event is recorded with: libvirt's lifecycle events, and the other domain
#: events a watch subscribes to (a completed job, a block job, a metadata change).
DOMAIN_EVENTS = frozenset({"defined", "undefined", "started", "suspended", "resumed", "stopped",
                           "shutdown", "pmsuspended", "crashed", "job-completed", "block-job",
                           "metadata-changed"})
#: ... and a storage pool's: its lifecycle and its refreshes.
POOL_EVENTS = frozenset({"defined", "undefined", "started", "stopped", "created", "deleted", "refreshed"})
KINDS = {"domain": DOMAIN_EVENTS, "pool": POOL_EVENTS}

#: Host text in an event (an object's name, a metadata namespace) is cut to this many characters
#: when it is recorded: what a host can make the watch keep is bounded.
TEXT_LIMIT = 200
#: A migration's halves (out of one host, into another) closer than this are one story.
MIGRATION_WINDOW = 300.0
#: Details that mean "by migration" (libvirt's STARTED/RESUMED/SUSPENDED/STOPPED_MIGRATED).
MIGRATED = "migrated"


@dataclass(frozen=True)
class Event:
    """One thing libvirt said happened: on whose host (student, role), to which object (a domain
    or a pool, by name), what (`event`, with libvirt's `detail`), when (seconds since the epoch).
    `count` > 1 is the same event repeated back to back (the last one at `last`)."""

    student: str
    role: str
    kind: str                 # domain | pool
    object: str
    event: str
    detail: str = ""
    at: float = 0.0
    count: int = 1
    last: float | None = None

    def same(self, other: "Event") -> bool:
        """The same thing again (a pool refreshed twice): one record with a count."""
        return (self.student, self.role, self.kind, self.object, self.event, self.detail) == \
               (other.student, other.role, other.kind, other.object, other.event, other.detail)

    def to_dict(self) -> dict:
        """As timeline.json keeps it under its student (who is the key, not repeated)."""
        data = {k: v for k, v in asdict(self).items() if k != "student"}
        if self.count == 1:
            data.pop("count"), data.pop("last")
        return data

    @classmethod
    def from_dict(cls, student: str, data: dict) -> "Event":
        known = {"role", "kind", "object", "event", "detail", "at", "count", "last"}
        return cls(student=student, **{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Explains:
    """One line of a lab's table: these events (a word, or `word/detail`) of this kind of object
    (by name; None: any), on these roles (None: any), explain this exercise."""

    exercise: str
    kind: str
    objects: frozenset[str] | None
    events: tuple[str, ...]
    roles: tuple[str, ...] | None = None

    @classmethod
    def of(cls, exercise: str, kind: str, objects=None, events=(), roles=None) -> "Explains":
        """Names as any iterable (or one name), None or '*' for any; a wrong word is an error
        when the lab is loaded, naming it."""
        if kind not in KINDS:
            raise RuntimeError(f"Explains({exercise!r}): kind {kind!r} is not one of {sorted(KINDS)}")
        events = (events,) if isinstance(events, str) else tuple(events)
        unknown = [e for e in events if e.partition("/")[0] not in KINDS[kind]]
        if unknown or not events:
            raise RuntimeError(f"Explains({exercise!r}): {kind} events {unknown or '(none)'} are not "
                               f"among {sorted(KINDS[kind])}")
        if isinstance(objects, str) and objects != "*":
            objects = (objects,)
        roles = (roles,) if isinstance(roles, str) else roles
        return cls(exercise, kind, None if objects in (None, "*") else frozenset(objects), events,
                   None if roles is None else tuple(roles))

    def matches(self, event: Event) -> bool:
        if event.kind != self.kind or (self.objects is not None and event.object not in self.objects):
            return False
        if self.roles is not None and event.role not in self.roles:
            return False
        return any(word == event.event or word == f"{event.event}/{event.detail}" for word in self.events)


@dataclass(frozen=True)
class Seen:
    """One line of what was seen happening in an exercise: an event as it came, or a migration
    told once (`source` → `target`: either may be None when only one half was seen)."""

    at: float
    object: str
    event: Event | None = None
    source: str | None = None
    target: str | None = None

    @property
    def migration(self) -> bool:
        return self.event is None


def explaining(rules: tuple[Explains, ...], exercise: str, events: list[Event]) -> list[Event]:
    """The events that explain `exercise`, by its lab's table, in the order they happened."""
    mine = [r for r in rules if r.exercise == exercise]
    return [e for e in events if any(r.matches(e) for r in mine)]


def _half(event: Event) -> str | None:
    """'out' or 'in' for an event that is one half of a domain's migration, else None."""
    if event.kind != "domain":
        return None
    if event.detail == MIGRATED:
        return "out" if event.event in ("suspended", "stopped") else "in"
    if event.event == "job-completed" and event.detail in ("migration-out", "migration-in"):
        return event.detail.rpartition("-")[2]
    return None


def seen(rules: tuple[Explains, ...], exercise: str, events: list[Event], limit: int = 8) -> list[Seen]:
    """What was seen happening in one student's `exercise`: its lab's events, each domain's
    migration told once ("lab4-live: migrated A → B"), the last `limit` lines."""
    lines: list[Seen] = []
    open_moves: dict[str, int] = {}          # a domain -> the index of its migration line
    for event in explaining(rules, exercise, events):
        half = _half(event)
        if half is None:
            lines.append(Seen(event.at, event.object, event))
            continue
        index = open_moves.get(event.object)
        if index is not None:
            line = lines[index]
            other_end = line.source if half == "out" else line.target
            if event.at - line.at > MIGRATION_WINDOW or other_end not in (None, event.role):
                index = None                  # an earlier migration of the same domain (or back)
        if index is None:
            open_moves[event.object] = len(lines)
            lines.append(Seen(event.at, event.object, source=event.role if half == "out" else None,
                              target=event.role if half == "in" else None))
            continue
        line = lines[index]
        source = line.source or (event.role if half == "out" else None)
        target = line.target or (event.role if half == "in" else None)
        at = event.at if half == "in" and line.target is None else line.at   # when it arrived
        lines[index] = Seen(at, line.object, source=source, target=target)
    return lines[-limit:]


@dataclass
class StudentEvents:
    """One student's events as a watch keeps them: at most `keep` records (the latest), a repeat
    folded into the record before it, and how many were not kept."""

    keep: int
    events: list[Event] = field(default_factory=list)
    dropped: int = 0

    def add(self, event: Event) -> None:
        for i in range(len(self.events) - 1, max(-1, len(self.events) - 9), -1):
            kept = self.events[i]
            if kept.kind == event.kind and kept.object == event.object and kept.role == event.role:
                if kept.same(event):          # the object's last event, again: count it
                    self.events[i] = replace(kept, count=kept.count + event.count,
                                             last=event.last or event.at)
                    return
                break
        self.events.append(event)
        if len(self.events) > self.keep:
            overflow = len(self.events) - self.keep
            del self.events[:overflow]
            self.dropped += overflow
