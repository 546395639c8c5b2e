"""Progress of a class run, on stderr so stdout stays the report: a rich bar on a terminal
(graded / total, unreachable so far), one plain line per student otherwise (logs, CI, pipes)."""
from __future__ import annotations

from typing import TextIO

from grader.core.results import GRADED, UNREACHABLE, StudentResult, number
from grader.core.text import one_line


class ClassProgress:
    """Context manager; call `update(result)` once per student as results arrive."""

    def __init__(self, total: int, lab: str, stream: TextIO, terminal: bool | None = None):
        self.total, self.lab, self.stream = total, lab, stream
        self.done = self.unreachable = self.errors = 0
        self.console = None
        if terminal is not False:   # rich (a third of what `grade --roster` imports) only for a bar
            from rich.console import Console

            self.console = Console(file=stream, force_terminal=terminal)
        self.bar = self.console is not None and self.console.is_terminal
        self._progress = None
        self._task = None

    def __enter__(self):
        if self.bar:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn(f"grading {self.lab}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("[red]{task.fields[unreachable]} unreachable"), TimeElapsedColumn(),
                console=self.console, transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task("grade", total=self.total, unreachable=0)
        return self

    def update(self, result: StudentResult) -> None:
        self.done += 1
        if result.status == UNREACHABLE:
            self.unreachable += 1
        elif result.status != GRADED:
            self.errors += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=1, unreachable=self.unreachable)
            return
        if result.status == GRADED:
            what = f"{number(result.score)}/{result.max_score}"
        else:
            what = f"{result.status}: {result.error}"
        self.stream.write(one_line(f"[{self.done}/{self.total}] {result.student}: {what}") + "\n")
        self.stream.flush()

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False

    def line(self) -> str:
        """The closing line: how many were graded, unreachable, or in error."""
        graded = self.done - self.unreachable - self.errors
        return (f"{self.lab}: {graded} graded, {self.unreachable} unreachable, {self.errors} error(s) "
                f"of {self.total}")
