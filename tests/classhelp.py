"""Helpers for the class-grading tests: a simulated class on libvirt's test driver, and a host
that accepts connections and never answers."""
from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import simclass  # noqa: E402


def make_class(tmp_path: Path, states: list[str], extra: dict[str, str] | None = None) -> Path:
    """A CSV roster: student i in states[i], each on its own test:/// node XML file."""
    rows = []
    for i, state in enumerate(states):
        path = tmp_path / "hosts" / f"{state}-{i}.xml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(simclass.host_xml(state))
        rows.append((f"s{i}-{state}", f"test://{path}"))
    rows += list((extra or {}).items())
    return simclass.write_roster(tmp_path / "roster.csv", rows)


class HungHost:
    """A TCP listener that accepts and never answers (a host whose libvirtd hangs)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def uri(self) -> str:
        return f"test+tcp://127.0.0.1:{self.port}/nowhere.xml"

    def close(self):
        for conn in self.held:
            conn.close()
        self.sock.close()
