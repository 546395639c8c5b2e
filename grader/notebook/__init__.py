"""What a lab notebook's cells call: the language, "check my work", predictions, `%%host`.

* `set_language(LANG)`: the notebook's language for every message printed after it.
* `check_my_work(lab, exercise)`: grade one exercise now, on the student's own host, with the
  same checks as `grade`, through the same bounded, read-only reading (grader.reading), on the
  hosts the environment names (grader.core.uris: $LAB_URI_<ROLE>, for role A also
  $LIBVIRT_DEFAULT_URI), printed in the student's language.
* `predict(key, text)` / `predicted(key)`: the student writes down what a measurement will show
  before running it; the measurement cell prints it back beside the result. Not graded: it
  stays in the student's notebook (and in an nbgrader submission).
* `host_file(conn, path)`: where an image of the host is on this machine, for the experiments
  that use QEMU's own tools on it (None on a remote host: run them there).
* `host_shell(command, role="A")`: a shell command run on the lab host itself (lvcreate, zfs,
  dd into a logical volume): through `$LAB_SSH_<ROLE>` when set (VM hosts started on this
  machine), else through ssh to the host of a `qemu+ssh://` URI, else here (the notebook runs
  on the student's own host).
* `%%host` on the first line of a cell that works on a host. Importing this module in a
  kernel registers it; under nbgrader's autograde (NBGRADER_EXECUTION) such cells print one line
  and are skipped, and libvirt and host commands refuse (grader.course.autograde): nbgrader runs
  notebooks on the instructor's machine, where no student host is.
"""
from __future__ import annotations

import os
import shlex
import subprocess
from urllib.parse import urlsplit

from grader.course import autograde
from grader.core import labdef
from grader.core.i18n import Catalog, ENGINE_CATALOG, check_language
from grader.core.results import GRADED, ExerciseResult
from grader.core.uris import parse_hosts

_language: str | None = None
_predictions: dict[str, str] = {}


def set_language(lang: str) -> str:
    """The notebook's language setting: 'en' or 'es' for every message printed after it."""
    global _language
    _language = check_language(lang)
    os.environ["LAB_LANG"] = _language
    return _language


def language() -> str:
    return _language or check_language(None)


def _text(key: str, **params) -> str:
    return Catalog.load(ENGINE_CATALOG).text(key, language(), **params)


def under_autograde() -> bool:
    return autograde.under_autograde()


def check_my_work(lab_id: str, exercise: str, hosts: dict[str, str] | None = None,
                  quiet: bool = False) -> ExerciseResult | None:
    """Grade one exercise now, print 'id: score/max — feedback', and return the result."""
    from grader.reading import batch
    from grader.reading.student import Target

    lang = language()
    if under_autograde():
        print(_text("ui-check-skipped", lab=lab_id))
        return None
    lab = labdef.for_environment(os.environ).load(lab_id)
    lab.exercise(exercise)
    uris = hosts or parse_hosts((), lab.roles, os.environ)
    [result] = batch.grade(lab, [Target("me", uris)], lang=lang, only=[exercise])
    if result.status != GRADED:
        print(lab.catalog.text("ui-check-not-graded", lang, exercise=exercise, error=result.error))
        return None
    ex = result.exercises[0]
    if not quiet:
        mark = "✔" if ex.score == ex.max_score else ("◐" if ex.score else "✘")
        print(f"{mark} {ex.id}: {ex.score}/{ex.max_score} — {ex.feedback}")
    return ex


def predict(key: str, text: str) -> None:
    """Note the student's prediction for the measurement `key` (not graded); say so."""
    text = " ".join(text.split())
    if text:
        _predictions[key] = text
        print(_text("ui-predict-recorded", text=text))
    else:
        _predictions.pop(key, None)
        print(_text("ui-predict-empty"))


def predicted(key: str) -> str | None:
    """Print the prediction made for `key` above a measurement's result (and return it)."""
    text = _predictions.get(key)
    print(_text("ui-predicted", text=text) if text else _text("ui-predicted-none"))
    return text


def host_file(conn, path: str):
    """Where the host's file `path` is on this machine (a Path), or None on a remote host."""
    from grader.course.hostfiles import host_file as locate

    return locate(conn.getURI(), path)


class HostCommandFailed(RuntimeError):
    """A host_shell command exited with a failure: one line with its command and error."""


def host_command(command: str, role: str = "A", env=None) -> list[str]:
    """The argv that runs `command` on the host of `role` (see host_shell)."""
    env = os.environ if env is None else env
    role = role.upper()
    ssh = env.get(f"LAB_SSH_{role}")
    if ssh:
        return [*shlex.split(ssh), command]
    uri = env.get(f"LAB_URI_{role}") or (env.get("LIBVIRT_DEFAULT_URI") if role == "A" else None)
    parts = urlsplit(uri or "")
    if parts.scheme.endswith("+ssh") and parts.hostname:
        where = f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname
        port = ["-p", str(parts.port)] if parts.port else []
        return ["ssh", *port, "-o", "BatchMode=yes", where, command]
    return ["sh", "-c", command]


def host_shell(command: str, role: str = "A", timeout: float = 600.0, check: bool = True,
               env=None) -> subprocess.CompletedProcess:
    """Run a shell command on the lab host of `role`, as root; its output as text.

    With check (the default) a failure raises HostCommandFailed with the command and the last
    line it printed on stderr."""
    done = subprocess.run(host_command(command, role, env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if check and done.returncode:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise HostCommandFailed(f"`{command}` failed on host {role.upper()} (exit status "
                                f"{done.returncode}): {lines[-1].strip() if lines else 'no output'}")
    return done


def _activate() -> None:
    """In a kernel: register `%%host`; under autograde also refuse libvirt and host commands."""
    try:
        from IPython import get_ipython
    except ImportError:
        shell = None
    else:
        shell = get_ipython()
    if shell is not None:
        autograde.register(shell, lambda: _text("ui-host-cell-skipped"))
    if autograde.under_autograde():
        autograde.refuse_hosts(lambda what: _text("ui-host-refused", what=what))


_activate()
