"""A minimal QMP client: QEMU's JSON control protocol, on a VM host's unix socket.

Enough to pause, save, load and resume a VM host (`vmstate`); QMP is line-delimited JSON: a
greeting, `qmp_capabilities`, then one reply per command, with asynchronous events between.
"""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from grader.errors import EnvironmentProblem


class QMPError(EnvironmentProblem):
    """QEMU answered a command with an error, or could not be reached."""


class QMP:
    """One connection to QEMU's monitor; use as a context manager."""

    def __init__(self, path: Path, timeout: float = 30.0):
        self.path, self.timeout = path, timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def __enter__(self) -> "QMP":
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        try:
            self.sock.connect(str(self.path))
            self._read()                     # the greeting
            self.command("qmp_capabilities")
        except (OSError, ValueError) as err:
            self.close()
            raise QMPError(f"cannot talk to QEMU at {self.path}: {err}") from None
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _read(self) -> dict:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QMPError("QEMU closed its monitor")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def command(self, name: str, **arguments):
        """Run a command and return its result; events that arrive meanwhile are skipped."""
        message = {"execute": name, **({"arguments": arguments} if arguments else {})}
        try:
            self.sock.sendall(json.dumps(message).encode() + b"\n")
            while True:
                reply = self._read()
                if "return" in reply:
                    return reply["return"]
                if "error" in reply:
                    raise QMPError(f"{name}: {reply['error'].get('desc', reply['error'])}")
        except (OSError, ValueError) as err:
            raise QMPError(f"{name}: {err}") from None

    def wait_migration(self, deadline: float) -> None:
        """Until the outgoing or incoming migration stream is done (or fails, or time is up)."""
        while True:
            status = self.command("query-migrate").get("status")
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                raise QMPError(f"migration {status}")
            if status is None:      # incoming: no migration info; the run state says it
                state = self.command("query-status")["status"]
                if state not in ("inmigrate", "prelaunch"):
                    if state in ("paused", "running", "postmigrate"):
                        return
                    raise QMPError(f"VM in state {state} after loading")
            if time.monotonic() > deadline:
                raise QMPError(f"migration not done in time (status {status})")
            time.sleep(0.1)
