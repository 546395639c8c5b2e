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


class LoopbackListener:
    """A TCP listener on loopback; each accepted connection goes to `handle`, and `close` ends
    them all."""

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
                client = self.sock.accept()[0]
            except OSError:
                return
            self.held.append(client)
            self.handle(client)

    def handle(self, client) -> None:
        """Hold the connection and never answer (a host whose libvirtd hangs)."""

    def close(self):
        for conn in self.held:
            conn.close()
        self.sock.close()


class HungHost(LoopbackListener):
    """A TCP listener that accepts and never answers (a host whose libvirtd hangs)."""

    def uri(self) -> str:
        return f"test+tcp://127.0.0.1:{self.port}/nowhere.xml"


class StallingProxy(LoopbackListener):
    """A TCP relay to a real libvirtd that passes the server's first `answers` RPC messages
    through and then goes silent (a host that hangs half-way through being read)."""

    def __init__(self, upstream_port: int, answers: int):
        self.upstream_port, self.answers = upstream_port, answers
        super().__init__()

    def handle(self, client) -> None:
        server = socket.create_connection(("127.0.0.1", self.upstream_port))
        self.held.append(server)
        threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
        threading.Thread(target=self._pump, args=(server, client, self.answers), daemon=True).start()

    @staticmethod
    def _pump(src, dst, budget):
        """Copy whole RPC messages (4-byte big-endian length first); stop after `budget`."""
        buffer = b""
        try:
            while data := src.recv(65536):
                buffer += data
                while len(buffer) >= 4 and len(buffer) >= int.from_bytes(buffer[:4], "big"):
                    size = int.from_bytes(buffer[:4], "big")
                    if budget is not None:
                        if budget <= 0:
                            buffer = b""   # swallowed: the client never hears back
                            break
                        budget -= 1
                    dst.sendall(buffer[:size])
                    buffer = buffer[size:]
        except OSError:
            pass
