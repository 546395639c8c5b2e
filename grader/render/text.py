"""The class summary as plain fixed-width text, for the run archive (summary.txt).

The terminal table's content without rich: plain string formatting, since rich took 0.6 s to
lay out a class of 200. Names are printable (control characters shown as escapes).
"""
from __future__ import annotations

from grader.core.results import GRADED, number
from grader.core.text import one_line
from grader.render import Renderer, Report
from grader.render.table import copies, footer, reasons


def render(report: Report) -> str:
    run, lab, t = report.run, report.lab, report.t
    header = ([t("ui-student")] + [f"{ex.id}/{ex.points}" for ex in lab.exercises]
              + [f"{t('ui-total')}/{lab.max_score}", t("ui-status")])
    rows = []
    for result in run.results:
        name = one_line(result.student, 60)
        if result.status != GRADED:
            rows.append([name] + ["-"] * (len(lab.exercises) + 1) + [t(f"ui-status-{result.status}")])
            continue
        scores = {e.id: e.score for e in result.exercises}
        rows.append([name] + [str(number(scores[ex.id])) if ex.id in scores else ""
                              for ex in lab.exercises]
                    + [str(number(result.score)), t("ui-graded")])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"{lab.id} — {lab.title.get(run.lang, lab.id)}"]
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    lines += reasons(run) + copies(report) + [footer(report)]
    return "\n".join(lines) + "\n"


RENDERER = Renderer("text", render, archive="summary.txt")
