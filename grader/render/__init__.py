"""Renderers: a graded run in, text out. No libvirt, no grading logic, one interface.

Every output format is a `Renderer` registered once below: `grade --format NAME` prints
`render(report)`, and a class run writes every renderer's `outputs(report)` into its run
directory (a student's own file as soon as that student is graded, the others at the end).
Adding a format means adding a module with a RENDERER and one line in REGISTRY.

Everything a host sent (names, paths, libvirt's errors) reaches a renderer as data: each one
escapes its own markup (rich, Markdown, HTML, spreadsheet formulas) and makes control characters
visible (grader.core.text), so no student can write into the instructor's terminal or report.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

from grader.core.labdef import Lab
from grader.core.results import LabRun, StudentResult

if TYPE_CHECKING:   # only a watched run has one: `grade` starts without statistics
    from grader.core.timeline import Timeline


@dataclass(frozen=True)
class Report:
    """What every renderer reads: the graded run, its lab, and how it will be shown."""

    run: LabRun
    lab: Lab
    emails: Mapping[str, str | None] = field(default_factory=dict)
    single: bool = False       # one student graded on the spot (grade --host): the detailed table
    terminal: bool = False     # shown on a terminal: colour allowed
    width: int = 100           # columns for the terminal table when not on a terminal
    timeline: Timeline | None = None   # a watched session's (grade --watch), for the class report
    names: Mapping[str, str | None] = field(default_factory=dict)   # the roster's `name` column
    anonymous: bool = False    # the class report for projecting: #1, #2... instead of names

    def t(self, key: str, **params) -> str:
        """A user-interface string from the catalogs, in the run's language."""
        return self.lab.catalog.text(key, self.run.lang, **params)

    def labels(self) -> dict[str, str]:
        """What the class report calls each student (see `labels`)."""
        return labels([r.student for r in self.run.results], self.names, self.anonymous)


def labels(students: list[str], names: Mapping[str, str | None] | None = None,
           anonymous: bool = False) -> dict[str, str]:
    """What a page shown to people calls each student: the roster's name (its `name` column),
    the student's id where there is none, or #1, #2... in roster order when anonymous (for
    projecting in class)."""
    names = names or {}
    return {s: (f"#{i}" if anonymous else (names.get(s) or s)) for i, s in enumerate(students, start=1)}


@dataclass(frozen=True)
class Renderer:
    """One output format: `render` is what --format NAME prints; `archive` names the file a run
    directory keeps it in, or `student` gives one file per student, (name, text), that holds
    nothing of the run but that student's result and its language (their feedback), so a class
    run writes it as soon as the student is graded. `prepare`, if any, does ahead what needs no
    run (compiling a template), so a class run does it while it waits on hosts."""

    name: str
    render: Callable[[Report], str]
    archive: str | None = None
    student: Callable[[Report, StudentResult], tuple[str, str]] | None = None
    prepare: Callable[[], object] | None = None

    def outputs(self, report: Report) -> Iterator[tuple[str, str]]:
        if self.student is not None:
            for result in report.run.results:
                yield self.student(report, result)
        elif self.archive is not None:
            yield self.archive, self.render(report)


#: Every format: name -> (the module that holds its RENDERER, offered by --format). Modules are
#: imported when first used, so `grade` starts without jinja2 or rich it does not need.
REGISTRY = {
    "table": ("grader.render.table", True),
    "json": ("grader.render.jsonout", True),
    "csv": ("grader.render.csvout", True),
    "html": ("grader.render.html", True),
    "text": ("grader.render.text", False),
    "feedback": ("grader.render.feedback", False),
}

#: What --format offers.
FORMATS = [name for name, (_, stdout) in REGISTRY.items() if stdout]

_loaded: dict[str, Renderer] = {}


def get(name: str) -> Renderer:
    if name not in _loaded:
        _loaded[name] = importlib.import_module(REGISTRY[name][0]).RENDERER
    return _loaded[name]


def render(name: str, report: Report) -> str:
    return get(name).render(report)


def student_files(report: Report, result: StudentResult) -> list[tuple[str, str]]:
    """Every file of one student's own (see Renderer.student), from their result alone."""
    return [renderer.student(report, result) for renderer in map(get, REGISTRY) if renderer.student]


def prepare() -> None:
    """Load every renderer and let each prepare what needs no run. Meant for a thread of its own
    while hosts are read: nothing here may fail the run, so a failure is left for the real
    rendering to report."""
    for name in REGISTRY:
        try:
            renderer = get(name)
            if renderer.prepare is not None:
                renderer.prepare()
        except Exception:  # noqa: BLE001 - rendering for real says what is wrong
            pass
