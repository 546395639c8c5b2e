"""`lab course build|check|test`: render course.md and course.es.md from the bilingual sources in
course/, check that they are up to date, and run their examples on the lab hosts."""
from __future__ import annotations

import click

from grader.cli.environment import current
from grader.cli.exits import ExitStatus, handles_errors
from grader.core.i18n import LANGUAGES
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


@course.command("test")
@click.option("--lang", "langs", multiple=True, type=click.Choice(LANGUAGES),
              help="Only this language's file (repeat for both; default both).")
@click.option("--section", "sections", multiple=True, metavar="N",
              help="Only section N of the course (repeatable), e.g. --section 4; the setup of the "
                   "introduction, which every example assumes, always runs.")
@click.option("--vm", is_flag=True, default=None,
              help="On VM hosts (lab hosts up --vm): the blocks that need a host with its own "
                   "kernel. Default: the kind of lab host that is up (light when none is).")
@handles_errors
def test(langs, sections, vm):
    """Run every sh and python block of course.md and course.es.md on the lab hosts (started if
    needed), one line per block; exit 1 if a block failed. Light hosts run every block but those
    marked for VM hosts, which `--vm` runs."""
    from grader.course import coursetest

    env = current()
    summary = coursetest.run(langs or LANGUAGES, set(sections) or None, env.out, env.env, vm=vm,
                             say=env.err)
    return ExitStatus.PROBLEMS if summary.failed else ExitStatus.OK
