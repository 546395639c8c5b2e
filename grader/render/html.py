"""The HTML class report: one self-contained file that opens from disk in any browser.

Everything is inline (styles, and the score histogram as a base64 SVG image), so the file
can be mailed or archived alone. Autoescaping is on and every value is made printable first:
feedback, student names and whatever a host's events carried are text, never markup.

Besides the scores: the class at a glance by misconception (which feedback message holds how
many students, grader.core.misconceptions) and, for a watched session, its story and what was
seen happening in each student's exercises (grader.core.events). Students are called by the
roster's names (ids where it has none), or #1, #2... when the report is anonymous: then nothing
else that names them (hosts, errors) is shown either.
"""
from __future__ import annotations

from grader import templating
from grader.core import events, misconceptions
from grader.core.results import GRADED, LabRun, number
from grader.render import Renderer, Report
from grader.render.charts import curves_svg, histogram_svg
from grader.render.seen import line


def pass_rates(run: LabRun, lab) -> list[dict]:
    """Per exercise, among graded students: the share with full marks and with some marks."""
    graded = [r for r in run.results if r.status == GRADED]
    rows = []
    for ex in lab.exercises:
        scores = [e.score for r in graded for e in r.exercises if e.id == ex.id]
        n = len(scores) or 1
        rows.append({"id": ex.id, "points": ex.points, "text": ex.text.get(run.lang, ""),
                     "full": sum(s == ex.points for s in scores) / n,
                     "some": sum(0 < s < ex.points for s in scores) / n, "count": len(scores)})
    return rows


def render(report: Report) -> str:
    run, lab = report.run, report.lab
    graded = [r for r in run.results if r.status == GRADED]
    mean = number(sum(r.score for r in graded) / len(graded)) if graded else None
    axes = {"score": report.t("ui-axis-score"), "students": report.t("ui-axis-students")}
    label = report.labels()
    return templating.render(
        "report.html.j2", run=run, lab=lab, t=report.t, lang=run.lang, title=lab.title.get(run.lang, lab.id),
        graded=len(graded), not_graded=len(run.results) - len(graded), mean=mean,
        rates=pass_rates(run, lab), number=number, label=label, anonymous=report.anonymous,
        named={s: n for s, n in label.items() if n != s and not report.anonymous},
        histogram=histogram_svg([r.score for r in graded], lab.max_score, axes) if graded else None,
        held=held_rows(run, lab, label, report.t), session=session(report))


def held_rows(run: LabRun, lab, label: dict[str, str], t) -> dict:
    """The class at a glance: per exercise, each message that holds students back, how many and
    who; and the top one."""
    by_exercise = misconceptions.held(run.results, [ex.id for ex in lab.exercises])
    graded = sum(r.status == GRADED for r in run.results)
    rows = {ex: [{"key": h.key, "text": misconceptions.gist(lab.catalog, h.key, run.lang), "count": h.count,
                  "who": ", ".join(label.get(s, s) for s in h.students)} for h in items]
            for ex, items in by_exercise.items() if items}
    first = misconceptions.top(by_exercise)
    top = None if first is None else t("ui-top-mistake", exercise=first.exercise, count=first.count, total=graded,
                                       text=misconceptions.gist(lab.catalog, first.key, run.lang))
    return {"exercises": rows, "top": top}


def session(report: Report) -> dict | None:
    """A watched session's story (grade --watch): cumulative passes, median time to pass per
    exercise, and the exercise where most students spent longest."""
    timeline = report.timeline
    if timeline is None:
        return None
    medians = {ex: timeline.median_time_to_pass(ex) for ex in timeline.exercises}
    longest = timeline.longest()
    return {"curves": curves_svg(timeline, report.t("ui-axis-students"), report.t("ui-axis-minutes")),
            "medians": {ex: None if m is None else round(m / 60) for ex, m in medians.items()},
            "longest": longest, "students": len(timeline.students),
            "seen": seen_lines(report), "dropped": {s: kept.dropped for s, kept in timeline.events.items()
                                                    if kept.dropped}}


def seen_lines(report: Report) -> dict[str, dict[str, list[str]]]:
    """Per student and exercise, what the watch saw happening that explains it (the lab's table)."""
    timeline, lab = report.timeline, report.lab
    out = {}
    for student in timeline.events:
        kept = timeline.events_of(student)
        lines = {ex.id: [line(report.t, s) for s in events.seen(lab.explains, ex.id, kept)] for ex in lab.exercises}
        out[student] = {ex: found for ex, found in lines.items() if found}
    return out


RENDERER = Renderer("html", render, archive="report.html",
                    prepare=lambda: templating.environment().get_template("report.html.j2"))
