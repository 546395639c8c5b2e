"""Charts drawn by hand as small SVG images (no plotting library to import while a class is graded,
and an <img> any browser shows from disk): the score histogram, and the cumulative pass curves of
a watched session."""
from __future__ import annotations

import base64
from html import escape

from grader.core.timeline import Timeline

#: One colour per exercise, in order (colour-blind-safe palette, Okabe-Ito).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


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



def curves_svg(timeline: Timeline, students_label: str, minutes_label: str) -> str:
    """Per exercise, how many students had passed it at each minute of the session (a step line
    each, with its legend), as a base64 SVG image; the time axis says what it counts."""
    series = {ex: timeline.cumulative(ex) for ex in timeline.exercises}
    last = max([t for times in series.values() for t in times] + [timeline.started + 60])
    span = max(60.0, last - timeline.started)
    total = max(1, len(timeline.students))
    width, height, left, right, top, bottom = 640, 296, 48, 150, 12, 56
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(at: float) -> float:
        return left + plot_w * (at - timeline.started) / span

    def y(count: int) -> float:
        return top + plot_h - plot_h * count / total

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             '<rect width="100%" height="100%" fill="white"/>']
    step = max(1, -(-total // 5))
    for tick in range(0, total + 1, step):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
    minutes = max(1, int(span // 60))
    for minute in range(0, minutes + 1, max(1, -(-minutes // 6))):
        at = timeline.started + 60 * minute
        parts.append(f'<text x="{x(at):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{minute}</text>')
    for i, (ex, times) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        points = [(x(timeline.started), y(0))]
        for count, at in enumerate(times, start=1):
            points += [(x(at), y(count - 1)), (x(at), y(count))]
        points.append((x(last), y(len(times))))
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
                     f'<title>{escape(ex)}: {len(times)}</title></polyline>'
                     f'<text x="{left + plot_w + 10}" y="{top + 14 + 16 * i}" fill="{colour}">'
                     f'{escape(ex)} ({len(times)})</text>')
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#333"/>'
                 f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">{escape(minutes_label)}</text>'
                 f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(students_label)}</text></svg>')
    return base64.b64encode("".join(parts).encode()).decode()
