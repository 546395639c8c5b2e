"""Under nbgrader's autograde a notebook reaches no host: `%%host` cells are skipped, and libvirt
and host commands refuse.

nbgrader's autograde executes every cell of a student's notebook on the instructor's machine,
in the instructor's environment: a cell that opens $LIBVIRT_DEFAULT_URI there works on the
instructor's host (it once took lab3's snapshots on it). Only the knowledge exercises are
nbgrader's to grade; the libvirt exercises are `grade`'s. Two layers keep the host out:

* every cell that works on a host starts with the line `%%host`. An IPython input transformer
  (registered by grader.notebook) drops that line when the notebook runs for the student, and
  under autograde replaces the whole cell by one printed line saying it was skipped;
* `refuse_hosts` makes `libvirt.open*` raise and, through an audit hook, refuses to start a
  host command (virsh, qemu-img, ssh...), so a student's own code in a cell without `%%host`
  cannot reach a host either.

nbgrader sets NBGRADER_EXECUTION while it executes a notebook (autograde, validate).
"""
from __future__ import annotations

import os
import shlex
import sys
from typing import Callable, Iterable

HOST_MAGIC = "%%host"

#: Programs that reach or change a host. A command is refused when one of its commands (the
#: first word, or the first word of each part of a shell's -c script) is one of these.
HOST_COMMANDS = frozenset({
    "virsh", "virt-install", "virt-clone", "virt-manager", "virt-viewer", "qemu-img", "qemu-io",
    "qemu-nbd", "lab", "grade", "ssh", "scp", "sftp", "rsync", "nsenter", "iscsiadm", "targetcli",
    "mount", "umount", "losetup", "lvcreate", "lvremove", "vgcreate", "pvcreate", "zfs", "zpool",
})
HOST_PREFIXES = ("virt-", "qemu-system-")
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh"})
_WRAPPERS = frozenset({"env", "sudo", "timeout", "nice", "nohup", "xargs", "exec", "command", "time"})


def under_autograde(env=None) -> bool:
    """nbgrader sets NBGRADER_EXECUTION while it executes a notebook (autograde, validate)."""
    return bool((os.environ if env is None else env).get("NBGRADER_EXECUTION"))


# --- %%host ---------------------------------------------------------------------------------------

def host_cell(lines: list[str], skipped: Callable[[], str], env=None) -> list[str]:
    """IPython input transformer: a cell whose first line is `%%host` runs without that line,
    or, under autograde, prints `skipped()` instead of running."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or lines[first].strip() != HOST_MAGIC:
        return lines
    if under_autograde(env):
        return [f"print({skipped()!r})\n"]
    return lines[:first] + lines[first + 1:]


def register(shell, skipped: Callable[[], str]) -> None:
    """Register the `%%host` transformer in an IPython shell, once, before the cell-magic step."""
    if any(getattr(t, "is_host_cell", False) for t in shell.input_transformers_cleanup):
        return

    def transform(lines):
        return host_cell(lines, skipped)

    transform.is_host_cell = True
    shell.input_transformers_cleanup.append(transform)


# --- the guard ------------------------------------------------------------------------------------

def commands_of(argv: str | bytes | Iterable) -> list[str]:
    """The programs a command line would run: its first word, the first word of each part of a
    shell's -c script, and what env/sudo/timeout wrap. Pure, so it can be tested on its own."""
    if isinstance(argv, bytes):
        argv = argv.decode(errors="replace")
    if isinstance(argv, str):
        return _script_commands(argv)
    words = [os.fsdecode(a) if isinstance(a, (bytes, os.PathLike)) else str(a) for a in argv]
    return _argv_commands(words)


def _argv_commands(words: list[str]) -> list[str]:
    while words and "=" in words[0] and not words[0].startswith("-"):
        words = words[1:]  # VAR=value before the program
    if not words:
        return []
    program = os.path.basename(words[0])
    if program in _SHELLS and "-c" in words[1:]:
        script = words[words.index("-c", 1) + 1:]
        return [program] + (_script_commands(script[0]) if script else [])
    if program in _WRAPPERS:
        rest = [w for w in words[1:] if not w.startswith("-")]
        if program == "timeout" and rest:
            rest = rest[1:]  # the duration
        return [program] + _argv_commands(rest)
    return [program]


def _script_commands(script: str) -> list[str]:
    for separator in (";", "&", "|", "\n", "(", ")", "`", "$("):
        script = script.replace(separator, "\0")
    found = []
    for part in script.split("\0"):
        try:
            words = shlex.split(part)
        except ValueError:
            words = part.split()
        found += _argv_commands(words)
    return found


def is_host_command(argv) -> bool:
    return any(c in HOST_COMMANDS or c.startswith(HOST_PREFIXES) for c in commands_of(argv))


def _shown(argv) -> str:
    """A command line as the student typed it, short enough for one line."""
    if isinstance(argv, bytes):
        argv = argv.decode(errors="replace")
    if not isinstance(argv, str):
        argv = " ".join(os.fsdecode(a) if isinstance(a, (bytes, os.PathLike)) else str(a) for a in argv)
    return argv[:80]


_installed = False


def refuse_hosts(refused: Callable[[str], str]) -> None:
    """From now on in this process, libvirt.open* and host commands raise with `refused(what)`.

    Only ever called under autograde (the hook cannot be removed): libvirt's opens raise
    libvirtError, as an unreachable host would; a host command raises PermissionError (an OSError,
    which is also what a forked child before exec must get to exit cleanly)."""
    global _installed
    if _installed:
        return
    _installed = True
    import libvirt

    def refusing(name):
        def refuse(*args, **kwargs):
            raise libvirt.libvirtError(refused(f"libvirt.{name}()"))
        return refuse

    for name in ("open", "openReadOnly", "openAuth"):
        setattr(libvirt, name, refusing(name))

    def hook(event: str, args: tuple) -> None:
        argv = {"subprocess.Popen": 1, "os.system": 0, "os.exec": 1, "os.posix_spawn": 1,
                "os.spawn": 2}.get(event)
        if argv is not None and len(args) > argv and is_host_command(args[argv]):
            raise PermissionError(refused(_shown(args[argv])))

    sys.addaudithook(hook)
