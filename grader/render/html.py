"""The HTML class report: one self-contained file that opens from disk in any browser.

Everything is inline (styles, and the score histogram as a base64 SVG image), so the file
can be mailed or archived alone. Autoescaping is on and every value is made printable first:
feedback and student names are text, never markup.
"""
from __future__ import annotations

from grader import templating
from grader.core.results import GRADED, LabRun, number
from grader.render import Renderer, Report
from grader.render.charts import curves_svg, histogram_svg


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
    return templating.render(
        "report.html.j2", run=run, lab=lab, t=report.t, lang=run.lang, title=lab.title.get(run.lang, lab.id),
        graded=len(graded), not_graded=len(run.results) - len(graded), mean=mean,
        rates=pass_rates(run, lab), number=number,
        histogram=histogram_svg([r.score for r in graded], lab.max_score, axes) if graded else None,
        session=session(report))


def session(report: Report) -> dict | None:
    """A watched session's story (grade --watch): cumulative passes, median time to pass per
    exercise, and the exercise where most students spent longest."""
    timeline = report.timeline
    if timeline is None:
        return None
    medians = {ex: timeline.median_time_to_pass(ex) for ex in timeline.exercises}
    longest = timeline.longest()
    return {"curves": curves_svg(timeline, report.t("ui-axis-students")),
            "medians": {ex: None if m is None else round(m / 60) for ex, m in medians.items()},
            "longest": longest, "students": len(timeline.students)}


RENDERER = Renderer("html", render, archive="report.html",
                    prepare=lambda: templating.environment().get_template("report.html.j2"))
