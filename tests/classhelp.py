"""Helpers for the class-grading tests: a simulated class on libvirt's test driver (the
misbehaving hosts are in grader.testing.loopback, shared with bench/)."""
from __future__ import annotations

from pathlib import Path

from grader.testing import simclass
from grader.testing.loopback import HungHost, LoopbackListener, StallingProxy  # noqa: F401 - re-exported


def make_class(tmp_path: Path, states: list[str], extra: dict[str, str] | None = None) -> Path:
    """A CSV roster: student i in states[i], each on its own test:/// node XML file."""
    rows = []
    for i, state in enumerate(states):
        path = tmp_path / "hosts" / f"{state}-{i}.xml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(simclass.host_xml(state))
        rows.append((f"s{i}-{state}", f"test://{path}"))
    rows += list((extra or {}).items())
    return simclass.write_roster(tmp_path / "roster.csv", rows)


class GivenConnections:
    """Connections a test opened itself, by URI, for grader.reading.student.read_student (which
    otherwise opens its own)."""

    def __init__(self, by_uri: dict):
        self.by_uri = by_uri

    def get(self, uri, limits):
        return self.by_uri[uri]

    def forget(self, uri) -> None:
        """A dead connection stays the test's to close."""


def collect_student(lab, student: str, uris: dict[str, str], connections: dict | None = None):
    """One student's evidence, read as `grade` reads it; `connections` (role -> an open
    connection) makes the reader use those instead of opening its own."""
    from grader.reading.connection import Limits
    from grader.reading.student import Target, read_student

    given = None if connections is None else GivenConnections({uris[r]: c for r, c in connections.items()})
    return read_student(lab, Target(student, uris), Limits(), connections=given)


def grade_student(lab, student: str, uris: dict[str, str]):
    """One student graded as `grade --host` grades them: (result, evidence)."""
    from grader import grading
    from grader.reading.student import Target

    return grading.grade_one(lab, Target(student, uris))
