"""The terminal table: per student, exercise / points / maximum / feedback, and the total."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from grader.results import GRADED, LabRun

HEADERS = {
    "en": ("Exercise", "Points", "Max", "Feedback", "Total", "not graded"),
    "es": ("Ejercicio", "Puntos", "Máx", "Comentarios", "Total", "sin calificar"),
}


def render(run: LabRun, console: Console) -> None:
    exercise, points, maximum, feedback, total, not_graded = HEADERS[run.lang]
    for result in run.results:
        hosts = ", ".join(f"{role}={uri}" for role, uri in result.hosts.items())
        title = f"{run.lab} — {result.student} ({hosts})"
        if result.status != GRADED:
            console.print(f"[bold]{title}[/bold]: [red]{not_graded} ({result.status})[/red]: {result.error}")
            continue
        table = Table(title=title, show_lines=True, title_justify="left")
        table.add_column(exercise, no_wrap=True)
        table.add_column(points, justify="right")
        table.add_column(maximum, justify="right")
        table.add_column(feedback, overflow="fold")
        for ex in result.exercises:
            style = "green" if ex.score == ex.max_score else ("yellow" if ex.score else "red")
            table.add_row(ex.id, f"[{style}]{ex.score}[/{style}]", str(ex.max_score), ex.feedback)
        table.add_row(f"[bold]{total}[/bold]", f"[bold]{result.score}[/bold]", str(result.max_score), "")
        console.print(table)
