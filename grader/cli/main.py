"""Entry points: `lab` (hosts, start, finish, grade) and `grade` (the instructor's command).

Each sub-command lives in its own module and is registered here; nothing here knows about
libvirt.
"""
import functools
import os
import sys

import click

from grader.errors import ExitStatus, LabError


def reports_errors(func):
    """Turn a LabError into one line on stderr and its exit status; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except LabError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(int(err.exit_status))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as err:  # noqa: BLE001 - a bug still gets one line, not a traceback
            if os.environ.get("LAB_DEBUG"):
                raise
            message = " ".join(str(err).split())
            click.echo(f"error: unexpected {type(err).__name__}: {message} "
                       "(run again with LAB_DEBUG=1 for the traceback and report it)", err=True)
            sys.exit(int(ExitStatus.USAGE))

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def lab():
    """Lab hosts, lab set-up and grading for the KVM/libvirt storage course."""


def _register():
    """Each command lives in its own module; this is the one place that lists them."""
    from grader.cli import course, grading, hosts, labstate, notebook

    lab.add_command(hosts.hosts)
    lab.add_command(grading.grade)
    lab.add_command(labstate.start)
    lab.add_command(labstate.finish)
    lab.add_command(notebook.notebook)
    lab.add_command(course.course)
    return grading.grade


#: The instructor's `grade` command is the same command as `lab grade`.
grade = _register()
