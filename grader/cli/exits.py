"""Exit statuses, decided here only: the core returns outcomes and raises LabErrors, and this
layer maps them to a number and one line on stderr (never a traceback)."""
from __future__ import annotations

import functools
import sys
from enum import IntEnum

from grader.cli.environment import current
from grader.core.text import one_line
from grader.errors import CollectError, HostUnreachable, LabError


class ExitStatus(IntEnum):
    OK = 0            # the command did its job (grading ran, whatever the scores)
    NOT_GRADED = 1    # some host could not be graded (or reached); its result says why
    PROBLEMS = 1      # a check ran and found problems: `lab course test` (a block failed), `lab doctor`
    USAGE = 2         # bad input or an environment problem the user must fix
    INTERRUPTED = 130  # Ctrl-C or SIGTERM


def status_of(err: LabError) -> ExitStatus:
    return ExitStatus.NOT_GRADED if isinstance(err, (HostUnreachable, CollectError)) else ExitStatus.USAGE


def graded(all_graded: bool) -> ExitStatus:
    return ExitStatus.OK if all_graded else ExitStatus.NOT_GRADED


def handles_errors(func):
    """Turn a LabError into one line on stderr and its exit status; a bug into one line too.

    The command's own return value, an ExitStatus, becomes the process's exit status."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        env = current()
        try:
            status = func(*args, **kwargs)
        except LabError as err:
            env.err(f"error: {err}")
            sys.exit(int(status_of(err)))
        except KeyboardInterrupt:
            env.err("interrupted")
            sys.exit(int(ExitStatus.INTERRUPTED))
        except Exception as err:  # noqa: BLE001 - a bug still gets one line, not a traceback
            if env.env.get("LAB_DEBUG"):
                raise
            env.err(f"error: unexpected {type(err).__name__}: {one_line(err)} "
                    "(run again with LAB_DEBUG=1 for the traceback and report it)")
            sys.exit(int(ExitStatus.USAGE))
        sys.exit(int(status if status is not None else ExitStatus.OK))

    return wrapper
