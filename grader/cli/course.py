"""`lab course build|check`: render course.md and course.es.md from the bilingual sources in course/."""
from __future__ import annotations

import click

from grader.cli.environment import current
from grader.cli.exits import ExitStatus, handles_errors
from grader.course import coursetext as course_text


@click.group("course")
def course():
    """The course text (course.md, course.es.md), rendered from course/*.md."""


@course.command("build")
@handles_errors
def build():
    """Render course.md (English) and course.es.md (Spanish) from course/*.md."""
    for path in course_text.build():
        current().out(str(path))


@course.command("check")
@handles_errors
def check():
    """Exit 2 if a source breaks the pairing rule or a rendered file is out of date."""
    stale = course_text.stale()
    if stale:
        current().err(f"out of date: {', '.join(stale)}: run `lab course build`")
        return ExitStatus.USAGE
    current().out("course.md and course.es.md are up to date")
