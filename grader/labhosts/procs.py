"""Processes of ours: found by mount namespace or pid file, started detached, stopped for sure.

A lab host's daemons and everything they spawn (QEMU, FUSE clients of its GlusterFS mounts) share
the host's private mount namespace, so "every process of host a" is "every process in that
namespace": nothing survives `down` by forking away from a pid file.
"""
from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def alive(pid: int | None) -> bool:
    """True for a running process; a zombie (exited, not yet reaped) counts as dead."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def mount_ns(pid: int | str = "self") -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def pids_in_ns(ns: str) -> list[int]:
    """Every live process whose mount namespace is `ns`; never ours (refuses our own namespace)."""
    if not ns or ns == mount_ns():
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and mount_ns(entry) == ns and alive(int(entry)):
            found.append(int(entry))
    return found


def pids_by_comm(comm: str) -> list[int]:
    """Live processes whose command name (as in /proc/PID/comm) is `comm`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() == comm and alive(int(entry)):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def runs(pid: int | None, word: str) -> bool:
    """The process of a pid file still runs and is the one we started: its command line names
    `word` (pids are reused, so a stale pid file may name someone else's process)."""
    return alive(pid) and word in " ".join(cmdline(pid))


def terminate(pids, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL whatever is left, and wait until all are gone."""
    pids = [p for p in set(pids) if alive(p)]
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 15.0)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            pids = [p for p in pids if alive(p)]
            if not pids:
                return
            time.sleep(0.05)


def spawn_detached(argv: list[str], log: Path, pid_file: Path, env=None) -> None:
    """Start `argv` in its own session, reparented to init, and have it write its pid first.

    Detached so that it outlives the `lab` command; re-parented (setsid -f) so that a daemon
    that dies is reaped by init instead of lingering as a zombie of a long pytest run.
    """
    pid_file.unlink(missing_ok=True)
    script = 'echo $$ > "$0"; exec "$@"'
    with open(log, "ab") as out:
        subprocess.run(
            ["setsid", "-f", "sh", "-c", script, str(pid_file), *argv],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, check=True,
        )


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens on host:port.

    SO_REUSEADDR as the daemons set it themselves: connections of a host that just stopped,
    left in TIME_WAIT, do not keep it from starting again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            return err.errno == errno.EADDRINUSE
    return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 1) -> str:
    """The last non-empty line(s) of a log, for a one-line error message."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])
