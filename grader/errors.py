"""One exception family for the whole project; the CLI maps it to exit statuses.

Code below the CLI raises these and never calls sys.exit. Every message is one line that says
what is wrong and what to do.
"""
from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0            # the command did its job (grading ran, whatever the scores)
    NOT_GRADED = 1    # some host could not be graded; its result says why
    USAGE = 2         # bad input or an environment problem the user must fix


class LabError(Exception):
    """Base of every error meant for the user: one line, what is wrong and what to do."""

    exit_status = ExitStatus.USAGE


class UsageError(LabError):
    """Wrong input: unknown lab or exercise, malformed URI, missing role, bad roster."""


class EnvironmentProblem(LabError):
    """The machine is not fit: not root, a package missing, a port in use, a daemon died."""


class HostUnreachable(LabError):
    """A student's host could not be reached (connect failed, timed out)."""

    exit_status = ExitStatus.NOT_GRADED


class CollectError(LabError):
    """libvirt failed while the grader was reading a host's state."""

    exit_status = ExitStatus.NOT_GRADED
