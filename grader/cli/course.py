"""`lab course build|check`: render course.md and course.es.md from the bilingual sources in course/."""
from __future__ import annotations

import sys

import click

from grader import coursetext as course_text
from grader.cli.main import reports_errors
from grader.errors import ExitStatus


@click.group("course")
def course():
    """The course text (course.md, course.es.md), rendered from course/*.md."""


@course.command("build")
@reports_errors
def build():
    """Render course.md (English) and course.es.md (Spanish) from course/*.md."""
    for path in course_text.build():
        click.echo(str(path))


@course.command("check")
@reports_errors
def check():
    """Exit 2 if a source breaks the pairing rule or a rendered file is out of date."""
    stale = course_text.stale()
    if stale:
        click.echo(f"out of date: {', '.join(stale)}: run `lab course build`", err=True)
        sys.exit(int(ExitStatus.USAGE))
    click.echo("course.md and course.es.md are up to date")
