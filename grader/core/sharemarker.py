"""The course's share marker: one small file on the course's shared export, whose ctime tells a
pool that really mounts the export from a local mount made to look like one.

No program can set a file's ctime (the kernel stamps it), so a pool that lists the marker with
the ctime recorded when it was made stats the very file on the export. The marker is made once
per export through libvirt (`lab hosts up` for the lab hosts' share; `lab start lab1` or `lab4`
in a classroom, which print the reference); the grader takes the reference from its own
configuration, never from a host: $LAB_SHARE_MARKER or course.toml's `share_marker`, written
`NAME@CTIME`.
"""
from __future__ import annotations

from dataclasses import dataclass

from grader.errors import UsageError

#: The marker's file name in the export's top directory.
NAME = "kvm-storage-lab.marker"
#: Where the reference is kept in Evidence.expected.
KEY = "share_marker"


@dataclass(frozen=True)
class Marker:
    name: str
    ctime: str

    def __str__(self) -> str:
        return f"{self.name}@{self.ctime}"


def parse(text: str, where: str = "LAB_SHARE_MARKER") -> Marker:
    name, sep, ctime = text.strip().partition("@")
    seconds, dot, nanos = ctime.partition(".")
    if not (sep and name and "/" not in name and seconds.isdigit() and (not dot or nanos.isdigit())):
        raise UsageError(f"{where}={text!r} is not NAME@CTIME (e.g. {NAME}@1796668500.186554755): "
                         "copy the line `lab start lab1` or `lab hosts env` prints")
    return Marker(name, ctime)


def expected(evidence) -> Marker | None:
    """The reference the grader was given for this evidence, if any."""
    text = evidence.expected.get(KEY)
    return parse(text) if text else None


def expected_facts(env, course=None) -> dict[str, str]:
    """What the course's own configuration says the hosts should show, for the checks that
    compare (Evidence.expected): the marker's reference from course.toml's share_marker, else
    $LAB_SHARE_MARKER (what `lab hosts env` prints)."""
    text = (course.share_marker if course else None) or env.get("LAB_SHARE_MARKER")
    return {KEY: str(parse(text))} if text else {}
