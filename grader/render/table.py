"""The terminal table (`--format table`, the default).

One student graded on the spot: their exercises, points, maximum and feedback, and the total.
A class: one row per student, one column per exercise, the total; students not graded show
their status, and the reasons follow the table, so an instructor sees whose host to look at.

Every cell is a rich `Text`, never markup: a name like `[link=...]` or `[/x]` prints as those
letters, and control characters are made visible.
"""
from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.core.results import GRADED, LabRun, number
from grader.core.text import one_line
from grader.render import Renderer, Report

STYLE = {"full": "green", "some": "yellow", "none": "red"}


def _mark(score, max_score) -> str:
    return STYLE["full"] if score == max_score else (STYLE["some"] if score else STYLE["none"])


def _text(value, style: str | None = None) -> Text:
    return Text(one_line(value), style=style or "")


def student_tables(report: Report) -> list:
    """Per student: a title line, then (if graded) their exercise table."""
    t = report.t
    out = []
    for result in report.run.results:
        hosts = ", ".join(f"{role}={uri}" for role, uri in result.hosts.items())
        title = f"{report.run.lab} — {result.student} ({hosts})"
        if result.status != GRADED:
            line = Text.assemble((one_line(title), "bold"), ": ",
                                 (f"{t('ui-not-graded')} ({result.status})", "red"), ": ",
                                 one_line(result.error or ""))
            out.append(line)
            continue
        table = Table(title=_text(title), show_lines=True, title_justify="left")
        table.add_column(t("ui-exercise"), no_wrap=True)
        table.add_column(t("ui-points"), justify="right")
        table.add_column(t("ui-max"), justify="right")
        table.add_column(t("ui-feedback"), overflow="fold")
        for ex in result.exercises:
            table.add_row(_text(ex.id), _text(number(ex.score), _mark(ex.score, ex.max_score)),
                          str(ex.max_score), _text(ex.feedback))
        table.add_row(Text(t("ui-total"), style="bold"), Text(str(number(result.score)), style="bold"),
                      str(result.max_score), "")
        out.append(table)
    return out


def class_table(report: Report) -> Table:
    run, lab, t = report.run, report.lab, report.t
    out = Table(title=_text(f"{lab.id} — {lab.title.get(run.lang, lab.id)}"), title_justify="left")
    out.add_column(t("ui-student"), no_wrap=True)
    for ex in lab.exercises:
        out.add_column(f"{ex.id}\n/{ex.points}", justify="right", overflow="fold")
    out.add_column(f"{t('ui-total')}\n/{lab.max_score}", justify="right")
    out.add_column(t("ui-status"), no_wrap=True)
    for result in run.results:
        if result.status != GRADED:
            cells = ["—"] * (len(lab.exercises) + 1)
            out.add_row(_text(result.student), *cells, Text(t(f"ui-status-{result.status}"), style="red"))
            continue
        scores = {e.id: e for e in result.exercises}
        cells = []
        for ex in lab.exercises:
            got = scores.get(ex.id)
            cells.append(_text(number(got.score), _mark(got.score, got.max_score)) if got else Text(""))
        out.add_row(_text(result.student), *cells, Text(str(number(result.score)), style="bold"),
                    t("ui-graded"))
    return out


def footer(report: Report) -> str:
    run = report.run
    graded = [r for r in run.results if r.status == GRADED]
    mean = number(sum(r.score for r in graded) / len(graded)) if graded else "—"
    return report.t("ui-class-footer", n=len(graded), total=len(run.results), mean=mean, max=run.max_score)


def reasons(run: LabRun) -> list[str]:
    """Why each student not graded was not: one printable line each."""
    return [one_line(f"{r.student}: {r.status}: {r.error}") for r in run.results if r.status != GRADED]


def copies(report: Report) -> list[str]:
    """The groups of students whose hosts share an identity, under a heading (none: nothing)."""
    if not report.run.copies:
        return []
    return [report.t("ui-copies")] + [
        "  " + one_line(report.t("ui-copy", students=", ".join(c["students"]), reason=c["reason"]))
        for c in report.run.copies]


def render(report: Report) -> str:
    buffer = io.StringIO()
    # _environ: the output depends on the Report alone, not on this process's TERM or COLUMNS
    console = Console(file=buffer, force_terminal=report.terminal, width=report.width,
                      color_system="standard" if report.terminal else None, highlight=False,
                      emoji=False, _environ={})
    if report.single:
        for part in student_tables(report):
            console.print(part)
    else:
        console.print(class_table(report))
        for line in reasons(report.run) + copies(report):
            console.print(Text(line), soft_wrap=True)
        console.print(Text(footer(report)))
    return buffer.getvalue()


RENDERER = Renderer("table", render)
