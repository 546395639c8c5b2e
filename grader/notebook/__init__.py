"""What a lab notebook's cells call, and how notebooks reach students and nbgrader.

The names a notebook imports (`from grader.notebook import ...`):

* `set_language(LANG)`, `language()`: the notebook's language for every message (language);
* `check_my_work(lab, exercise)`, `predict(key, text)`, `predicted(key)` (runtime);
* `host_file(conn, path)`: where an image of the host is on this machine, for the experiments
  that use QEMU's own tools on it (hostfiles; None on a remote host: run them there);
* `host_shell(command, role="A")`: a command on the lab host itself (hostshell);
* `%%host` on the first line of a cell that works on a host. Importing this package in a kernel
  registers it; under nbgrader's autograde (NBGRADER_EXECUTION) such cells print one line and
  are skipped, and libvirt and host commands refuse (autograde): nbgrader runs notebooks on the
  instructor's machine, where no student host is.

Beside them, for nbgrader: `release` (the release in the course's language), and `sandbox` with
`sandboxkernel` (autograde runs each kernel in a bubblewrap sandbox: no network, no view of the
gradebook, the submissions or the instructor's home).
"""
from __future__ import annotations

from grader.notebook import autograde
from grader.notebook.hostfiles import host_file
from grader.notebook.hostshell import HostCommandFailed, host_command, host_shell
from grader.notebook.language import language, set_language, text
from grader.notebook.runtime import check_my_work, predict, predicted

__all__ = ["check_my_work", "predict", "predicted", "set_language", "language", "host_file",
           "host_shell", "host_command", "HostCommandFailed"]


def _activate() -> None:
    """In a kernel: register `%%host`; under autograde also refuse libvirt and host commands."""
    try:
        from IPython import get_ipython
    except ImportError:
        shell = None
    else:
        shell = get_ipython()
    if shell is not None:
        autograde.register(shell, lambda: text("ui-host-cell-skipped"))
    if autograde.under_autograde():
        autograde.refuse_hosts(lambda what: text("ui-host-refused", what=what))


_activate()
