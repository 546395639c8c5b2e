"""What a watched session shows: the live board (students × exercises, each exercise's state and
since when, how many passed each exercise, who has not progressed for a while, who is
unreachable) and, off a terminal, one line per change.

Pure: a timeline and the last results in, a rich table (or text) out; host text is shown as text.
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from rich.table import Table
from rich.text import Text

from grader.core.labdef import Lab
from grader.core.results import GRADED, StudentResult
from grader.core.text import one_line
from grader.core.timeline import FAILED, PARTIAL, PASSED, Timeline
from grader.render import labels

#: A student who has not progressed for this long is shown as idle.
IDLE_AFTER = 600.0
MARKS = {PASSED: ("✔", "green"), PARTIAL: ("◐", "yellow"), FAILED: ("✘", "red")}


def clock(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at).strftime("%H:%M")


def names(students: list[str], anonymous: bool, real: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """What the board calls each student: the roster's name (their id where it has none), or
    `#1`, `#2`... in roster order."""
    return labels(students, real, anonymous)


def board(lab: Lab, timeline: Timeline, results: dict[str, StudentResult], lang: str, now: float,
          anonymous: bool = False, real: Mapping[str, str | None] | None = None) -> Table:
    t = lambda key, **p: lab.catalog.text(key, lang, **p)  # noqa: E731 - a short alias
    exercises = [e for e in lab.exercises if e.id in timeline.exercises]
    table = Table(title=Text(one_line(t("ui-watch-title", lab=lab.id, polls=timeline.polls, at=clock(now)))),
                  title_justify="left")
    table.add_column(t("ui-student"), no_wrap=True)
    for ex in exercises:
        table.add_column(f"{ex.id}\n/{ex.points}", justify="right", no_wrap=True)
    table.add_column(t("ui-status"), no_wrap=True)
    label = names(list(timeline.students), anonymous, real)
    for student, track in timeline.students.items():
        cells = []
        for ex in exercises:
            ex_track = track.exercises.get(ex.id)
            if ex_track is None or ex_track.state is None:
                cells.append(Text("·", style="dim"))
                continue
            mark, style = MARKS[ex_track.state]
            shown = clock(ex_track.since) if ex_track.state != PARTIAL else f"{ex_track.score:g} {clock(ex_track.since)}"
            cells.append(Text(f"{mark} {shown}", style=style))
        result = results.get(student)
        if result is not None and result.status != GRADED:
            status = Text(t(f"ui-status-{result.status}"), style="red")
        elif timeline.idle(student, now) >= IDLE_AFTER:
            status = Text(t("ui-idle", minutes=int(timeline.idle(student, now) // 60)), style="yellow")
        elif result is not None:
            status = Text(f"{result.score:g}/{result.max_score}", style="bold")
        else:
            status = Text("…")
        table.add_row(Text(one_line(label[student])), *cells, status)
    counts = timeline.passed_counts()
    total = len(timeline.students)
    table.add_section()
    table.add_row(Text(t("ui-passed"), style="bold"), *(f"{counts[ex.id]}/{total}" for ex in exercises), "")
    return table


def change_line(change, anonymous: bool = False, label: dict[str, str] | None = None) -> str:
    """One printable log line per change: time, student, exercise (or host), old → new."""
    who = (label or {}).get(change.student, change.student) if anonymous else change.student
    return one_line(change.line().replace(f" {change.student} ", f" {who} ", 1))
