"""The page a watched session serves for the classroom screen (grade --watch --serve): the pass
counts over time as a chart, and the student table. It refreshes itself (no script at all), and
`anonymous` shows counts without names, for projecting."""
from __future__ import annotations

from grader import templating
from grader.core.labdef import Lab
from grader.core.results import GRADED, StudentResult
from grader.core.timeline import PARTIAL, Timeline
from grader.render.charts import curves_svg
from grader.render.live import IDLE_AFTER, MARKS, clock, names


def page(lab: Lab, timeline: Timeline, results: dict[str, StudentResult], lang: str, interval: float,
         now: float, anonymous: bool = False) -> str:
    t = lambda key, **p: lab.catalog.text(key, lang, **p)  # noqa: E731 - a short alias
    exercises = [e for e in lab.exercises if e.id in timeline.exercises]
    label = names(list(timeline.students), anonymous)
    rows = []
    for student, track in timeline.students.items():
        cells = []
        for ex in exercises:
            ex_track = track.exercises.get(ex.id)
            if ex_track is None or ex_track.state is None:
                cells.append({"state": None, "text": "·"})
                continue
            mark = MARKS[ex_track.state][0]
            score = f"{ex_track.score:g} " if ex_track.state == PARTIAL else ""
            cells.append({"state": ex_track.state, "text": f"{mark} {score}{clock(ex_track.since)}"})
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
                             counts=timeline.passed_counts(), curves=curves_svg(timeline, t("ui-axis-students")))
