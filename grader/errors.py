"""One exception family for the whole project, and one way to turn any error into one line.

Code below the command line raises these and never calls sys.exit; the CLI layer alone maps them
to exit statuses (grader.cli.exits). Every message is one line that says what is wrong and what
to do.
"""
from __future__ import annotations

from grader.core.text import one_line as _one_line

#: Reports cut libvirt's (or a modified libvirtd's) error messages to this many characters.
MAX_REASON = 300


class LabError(Exception):
    """Base of every error meant for the user: one line, what is wrong and what to do."""


class UsageError(LabError):
    """Wrong input: unknown lab or exercise, malformed URI, missing role, bad roster."""


class EnvironmentProblem(LabError):
    """The machine is not fit: not root, a package missing, a port in use, a daemon died."""


class HostUnreachable(LabError):
    """A student's host could not be reached (connect failed, timed out, stopped answering)."""


class CollectError(LabError):
    """libvirt failed while the grader was reading a host's state, or the host served too much."""


def one_line(err: BaseException | str, limit: int = MAX_REASON) -> str:
    """An error (often libvirt's multi-line text, maybe a hostile host's) as one printable line
    of at most `limit` characters."""
    return _one_line(err, limit)
