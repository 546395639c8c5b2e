"""The HTML class report: one self-contained file that opens from disk in any browser.

Everything is inline (styles, and the score histogram as a base64 SVG image), so the file
can be mailed or archived alone. Autoescaping is on and every value is made printable first:
feedback and student names are text, never markup.
"""
from __future__ import annotations

import base64
from html import escape

from grader import templating
from grader.core.results import GRADED, LabRun, number
from grader.render import Renderer, Report


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


def histogram_svg(scores: list[float], max_score: int, labels: dict) -> str:
    """A histogram of total scores (one bar per whole score) as a base64 SVG image.

    Drawn by hand as a few rectangles: no plotting library to import while a class is graded,
    and an <img> that any browser shows from disk.
    """
    counts = [0] * (max_score + 1)
    for value in scores:
        counts[min(max_score, max(0, int(value + 0.5)))] += 1
    width, height, left, right, top, bottom = 600, 260, 48, 12, 12, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(counts) or 1
    step = max(1, -(-peak // 5))                       # at most ~5 y ticks, whole students
    slot = plot_w / len(counts)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             '<rect width="100%" height="100%" fill="white"/>']
    for tick in range(0, peak + 1, step):
        y = top + plot_h - plot_h * tick / peak
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    for score, count in enumerate(counts):
        x = left + slot * score
        bar = plot_h * count / peak
        parts.append(f'<rect x="{x + 2:.1f}" y="{top + plot_h - bar:.1f}" width="{slot - 4:.1f}" '
                     f'height="{bar:.1f}" fill="#3b7dd8"><title>{score}: {count}</title></rect>'
                     f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{score}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#333"/>'
                 f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
                 f'{escape(labels["score"])}</text>'
                 f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(labels["students"])}</text>'
                 '</svg>')
    return base64.b64encode("".join(parts).encode()).decode()


def render(report: Report) -> str:
    run, lab = report.run, report.lab
    graded = [r for r in run.results if r.status == GRADED]
    mean = number(sum(r.score for r in graded) / len(graded)) if graded else None
    axes = {"score": report.t("ui-axis-score"), "students": report.t("ui-axis-students")}
    return templating.render(
        "report.html.j2", run=run, lab=lab, t=report.t, lang=run.lang, title=lab.title.get(run.lang, lab.id),
        graded=len(graded), not_graded=len(run.results) - len(graded), mean=mean,
        rates=pass_rates(run, lab), number=number,
        histogram=histogram_svg([r.score for r in graded], lab.max_score, axes) if graded else None)


RENDERER = Renderer("html", render, archive="report.html")
