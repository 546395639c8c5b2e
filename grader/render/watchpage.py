"""The page a watched session serves for the classroom screen (grade --watch --serve): the pass
counts over time as a chart (minutes since the watch started), the student table, what holds
the class back by feedback message, and what was seen happening lately. It refreshes itself (no
script at all). Students are called by the roster's names (ids where it has none); `anonymous`
shows #1, #2... instead, for projecting."""
from __future__ import annotations

from typing import Mapping

from grader import templating
from grader.core import events, misconceptions
from grader.core.labdef import Lab
from grader.core.results import GRADED, StudentResult
from grader.core.timeline import PARTIAL, Timeline
from grader.render import labels
from grader.render.charts import curves_svg
from grader.render.live import IDLE_AFTER, MARKS, clock
from grader.render.seen import line

#: What the page lists: the messages that hold most students per exercise (and at most this
#: many of their names), the latest events.
HELD_SHOWN, NAMES_SHOWN, SEEN_SHOWN = 3, 12, 10


def page(lab: Lab, timeline: Timeline, results: dict[str, StudentResult], lang: str, interval: float,
         now: float, anonymous: bool = False, names: Mapping[str, str | None] | None = None) -> str:
    t = lambda key, **p: lab.catalog.text(key, lang, **p)  # noqa: E731 - a short alias
    exercises = [e for e in lab.exercises if e.id in timeline.exercises]
    label = labels(list(timeline.students), names, anonymous)
    seen = {s: {ex.id: events.seen(lab.explains, ex.id, timeline.events_of(s)) for ex in exercises}
            for s in timeline.events}
    rows = []
    for student, track in timeline.students.items():
        cells = []
        for ex in exercises:
            ex_track = track.exercises.get(ex.id)
            title = "\n".join(line(t, s) for s in seen.get(student, {}).get(ex.id, []))
            if ex_track is None or ex_track.state is None:
                cells.append({"state": None, "text": "·", "title": title})
                continue
            mark = MARKS[ex_track.state][0]
            score = f"{ex_track.score:g} " if ex_track.state == PARTIAL else ""
            cells.append({"state": ex_track.state, "text": f"{mark} {score}{clock(ex_track.since)}", "title": title})
        result = results.get(student)
        if result is not None and result.status != GRADED:
            status, css = t(f"ui-status-{result.status}"), "status"
        elif timeline.idle(student, now) >= IDLE_AFTER:
            status, css = t("ui-idle", minutes=int(timeline.idle(student, now) // 60)), "idle"
        else:
            status, css = (f"{result.score:g}/{result.max_score}" if result else "…"), ""
        rows.append({"name": label[student], "cells": cells, "status": status, "status_class": css})
    return templating.render("watch.html.j2", lab=lab, t=t, lang=lang, interval=max(1, round(interval)),
                             at=clock(now), timeline=timeline, exercises=exercises, rows=rows,
                             counts=timeline.passed_counts(), held=held(lab, results, exercises, label, lang),
                             latest=latest(t, seen, label),
                             curves=curves_svg(timeline, t("ui-axis-students"), t("ui-axis-minutes")))


def held(lab: Lab, results: dict[str, StudentResult], exercises, label: dict[str, str], lang: str) -> list[dict]:
    """Per exercise, the messages that hold most students back in the last poll (at most
    HELD_SHOWN), with how many and who."""
    by_exercise = misconceptions.held(results.values(), [ex.id for ex in exercises])
    return [{"exercise": ex, "rows": [{"key": h.key, "count": h.count, "text": misconceptions.gist(lab.catalog, h.key, lang),
                                       "who": who([label.get(s, s) for s in h.students])}
                                      for h in items[:HELD_SHOWN]]}
            for ex, items in by_exercise.items() if items]


def who(names: list[str]) -> str:
    """Names for a screen: the first NAMES_SHOWN, then how many more."""
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f", … (+{len(names) - NAMES_SHOWN})" if len(names) > NAMES_SHOWN else "")


def latest(t, seen: dict[str, dict[str, list]], label: dict[str, str]) -> list[dict]:
    """The last SEEN_SHOWN things seen happening in the class, newest first."""
    found = [(s.at, student, ex, s) for student, per in seen.items() for ex, items in per.items() for s in items]
    found.sort(key=lambda item: item[0], reverse=True)
    return [{"who": label.get(student, student), "exercise": ex, "text": line(t, s)}
            for _, student, ex, s in found[:SEEN_SHOWN]]
