"""`host_shell(command, role)`: a notebook's command on the lab host itself (lvcreate, zfs, dd into
a volume), as root.

Through `$LAB_SSH_<ROLE>` when set (VM hosts started on this machine), else through ssh to the
host of a `qemu+ssh://` URI (the role's URI as grader.core.uris chooses it), else here: the
notebook then runs on the student's own host.
"""
from __future__ import annotations

import os
import shlex
import subprocess
from urllib.parse import urlsplit

from grader.core.uris import default_uri


class HostCommandFailed(RuntimeError):
    """A host_shell command exited with a failure: one line with its command and error."""


def host_command(command: str, role: str = "A", env=None) -> list[str]:
    """The argv that runs `command` on the host of `role`."""
    env = os.environ if env is None else env
    role = role.upper()
    ssh = env.get(f"LAB_SSH_{role}")
    if ssh:
        return [*shlex.split(ssh), command]
    parts = urlsplit(default_uri(role, env) or "")
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
