"""The class summary on the terminal: one row per student, one column per exercise, the total.

Students not graded show their status and the reason instead of points, so an instructor sees at
a glance whose host to look at.
"""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from grader.labdef import Lab
from grader.results import GRADED, LabRun, number

HEADERS = {
    "en": ("Student", "Total", "Status", "graded", "{n} of {total} graded; mean {mean}/{max}"),
    "es": ("Estudiante", "Total", "Estado", "calificado", "{n} de {total} calificados; media {mean}/{max}"),
}


def table(run: LabRun, lab: Lab) -> Table:
    student, total, status, graded_word, _ = HEADERS[run.lang]
    out = Table(title=f"{lab.id} — {lab.title.get(run.lang, lab.id)}", title_justify="left")
    out.add_column(student, no_wrap=True)
    for ex in lab.exercises:
        out.add_column(f"{ex.id}\n/{ex.points}", justify="right", overflow="fold")
    out.add_column(f"{total}\n/{lab.max_score}", justify="right")
    out.add_column(status, no_wrap=True)
    for result in run.results:
        if result.status != GRADED:
            cells = ["—"] * len(lab.exercises) + ["—"]
            out.add_row(result.student, *cells, f"[red]{result.status}[/red]")
            continue
        scores = {e.id: e for e in result.exercises}
        cells = []
        for ex in lab.exercises:
            got = scores.get(ex.id)
            if got is None:
                cells.append("")
                continue
            style = "green" if got.score == got.max_score else ("yellow" if got.score else "red")
            cells.append(f"[{style}]{number(got.score)}[/{style}]")
        out.add_row(result.student, *cells, f"[bold]{number(result.score)}[/bold]", graded_word)
    return out


def footer(run: LabRun) -> str:
    *_, line = HEADERS[run.lang]
    graded = [r for r in run.results if r.status == GRADED]
    mean = number(sum(r.score for r in graded) / len(graded)) if graded else "—"
    return line.format(n=len(graded), total=len(run.results), mean=mean, max=run.max_score)


def reasons(run: LabRun) -> list[str]:
    """Why each student not graded was not: one line each, under the table."""
    return [f"{r.student}: {r.status}: {r.error}" for r in run.results if r.status != GRADED]


def render(run: LabRun, lab: Lab, console: Console) -> None:
    console.print(table(run, lab))
    for line in reasons(run):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(footer(run))


def text(run: LabRun, lab: Lab) -> str:
    """The same summary as plain fixed-width text, for the run archive (summary.txt).

    Plain string formatting, not rich: rich took 0.6 s to lay out a class of 200.
    """
    student, total, status, graded_word, _ = HEADERS[run.lang]
    header = [student] + [f"{ex.id}/{ex.points}" for ex in lab.exercises] + [f"{total}/{lab.max_score}", status]
    rows = []
    for result in run.results:
        if result.status != GRADED:
            rows.append([result.student] + ["-"] * (len(lab.exercises) + 1) + [result.status])
            continue
        scores = {e.id: e.score for e in result.exercises}
        rows.append([result.student] + [str(number(scores[ex.id])) if ex.id in scores else ""
                                         for ex in lab.exercises]
                    + [str(number(result.score)), graded_word])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"{lab.id} — {lab.title.get(run.lang, lab.id)}"]
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    lines += reasons(run) + [footer(run)]
    return "\n".join(lines) + "\n"
