"""Loopback peers for tests and benchmarks: a private libvirtd serving simulated hosts, and hosts
that misbehave (accept and never answer, stall half-way, answer slowly).

Everything listens on 127.0.0.1, or on unix sockets in directories only root can enter (what
reaches a root libvirtd: nothing listens for root commands without authentication), and is
started and stopped by its user; none of it touches another libvirtd of the machine.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_base(names=()) -> str:
    """A LAB_PORT_BASE whose ports (the iSCSI portal, these hosts' and the next one of each,
    a VM host's ssh) are all free now.

    Scratch LAB_HOMEs in tests and benchmarks need their own ports: other developers' LAB_HOMEs
    on this machine may be using any fixed choice.
    """
    import secrets

    from grader.labhosts.config import Settings
    from grader.labhosts.procs import port_in_use

    for _ in range(50):
        base = str(20000 + 1000 * secrets.randbelow(30))
        settings = Settings.from_env({"LAB_PORT_BASE": base})
        ports = [settings.iscsi_port] + [settings.port(n) + i for n in names for i in (0, 1)]
        if not any(port_in_use(p) for p in ports):
            return base
    raise RuntimeError("no free block of ports for a scratch LAB_HOME")


# --- one private libvirtd with the test driver ---------------------------------------------------

NS_SCRIPT = """set -e
H="$1"
for d in etc:/etc/libvirt lib:/var/lib/libvirt run:/run/libvirt log:/var/log/libvirt cache:/var/cache/libvirt; do
  mkdir -p "${d#*:}"
  mount --bind "$H/${d%%:*}" "${d#*:}"
done
exec libvirtd -p /run/libvirt/libvirtd.pid
"""


class PrivateLibvirtd:
    """libvirtd with the test driver only, in its own mount namespace, reachable by root alone.

    It is root, and the test driver opens whatever node XML file a URI names: on a TCP port any
    local user could have it read any file. So it listens on its own unix socket only, in its
    /run/libvirt, a 0700 directory (URIs test+unix:///ABS/PATH.xml?socket=...)."""

    def __init__(self, work: Path):
        self.work, self.proc = work / "libvirtd", None
        self.socket = self.work / "run" / "libvirt-sock"

    def __enter__(self):
        for sub in ("etc", "lib", "run", "log", "cache", "drivers"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        (self.work / "run").chmod(0o700)
        (self.work / "etc" / "libvirtd.conf").write_text("\n".join([
            'auth_unix_ro = "none"', 'auth_unix_rw = "none"',
            'unix_sock_rw_perms = "0700"', 'unix_sock_ro_perms = "0700"',
            # one daemon stands in for a whole class of hosts: let it take them all at once
            "max_clients = 5000", "max_anonymous_clients = 5000", "max_queued_clients = 5000",
            "min_workers = 4", "max_workers = 16", "prio_workers = 2",
            'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"', ""]))
        (self.work / "ns.sh").write_text(NS_SCRIPT)
        env = {**os.environ, "LIBVIRT_DRIVER_DIR": str(self.work / "drivers")}
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", str(self.work / "ns.sh"), str(self.work)],
            stdout=subprocess.DEVNULL, stderr=open(self.work / "daemon.log", "w"), env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"libvirtd did not start: {(self.work / 'daemon.log').read_text()[-500:]}")
            try:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.settimeout(0.2)
                    probe.connect(str(self.socket))
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("libvirtd did not listen within 30 s")

    def uri(self, path: Path, sock: Path | None = None) -> str:
        """The simulated host in node XML file `path`, through this daemon's socket (or `sock`,
        a proxy's)."""
        return f"test+unix://{path}?socket={sock or self.socket}"

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # our own libvirtd, by its pid
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def private_dir(prefix: str = "loopback-") -> Path:
    """A directory only root (its creator) can enter, for the unix sockets of our proxies."""
    return Path(tempfile.mkdtemp(prefix=prefix))


# --- a proxy that delays each libvirt RPC message ------------------------------------------------

class DelayProxy:
    """Forwards a unix socket to libvirtd's, holding every RPC message `delay` s each way.

    libvirt's RPC frames start with a 4-byte big-endian length that counts itself, so the proxy
    cuts the byte stream into messages and schedules each one `delay` after it fully arrived
    (order kept, pipelining kept: latency, not bandwidth). It also counts messages per
    connection, which is the calls-per-host figure as the network sees it. It listens in a
    directory of its own that only root can enter, like the daemon it stands in front of.
    """

    def __init__(self, upstream: Path, delay: float):
        self.upstream, self.delay = upstream, delay
        self.folder = private_dir("delay-")
        self.socket = self.folder / "sock"
        self.sent_per_conn: list[int] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()

    async def _forward(self, reader, writer, counter: list[int] | None):
        buffer, queue = b"", asyncio.Queue()

        async def sender():
            while True:
                due, chunk = await queue.get()
                if chunk is None:
                    writer.close()
                    return
                pause = due - self.loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                writer.write(chunk)
                await writer.drain()

        task = asyncio.ensure_future(sender())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                buffer += data
                while len(buffer) >= 4:
                    size = struct.unpack(">I", buffer[:4])[0]
                    if len(buffer) < size:
                        break
                    message, buffer = buffer[:size], buffer[size:]
                    if counter is not None:
                        counter[0] += 1
                    queue.put_nowait((self.loop.time() + self.delay, message))
        except (ConnectionError, OSError):
            pass
        queue.put_nowait((0, None))
        try:
            await task
        except (ConnectionError, OSError):
            pass

    async def _client(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(self.upstream))
        except OSError:
            writer.close()
            return
        counter = [0]
        self.sent_per_conn.append(counter)
        await asyncio.gather(self._forward(reader, up_writer, counter), self._forward(up_reader, writer, None))

    def _run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_unix_server(self._client, str(self.socket), backlog=4096))
        self.ready.set()
        self.loop.run_forever()
        server.close()

    def __enter__(self):
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        shutil.rmtree(self.folder, ignore_errors=True)

    def messages_per_connection(self) -> float:
        counts = [c[0] for c in self.sent_per_conn]
        return statistics.mean(counts) if counts else 0.0



# --- hosts that accept and then misbehave --------------------------------------------------------

class LoopbackListener:
    """A TCP listener on loopback (or, given `path`, a unix socket there); each accepted
    connection goes to `handle`, and `close` ends them all."""

    def __init__(self, path: Path | None = None):
        if path is None:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.port, self.path = self.sock.getsockname()[1], None
        else:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(str(path))
            self.port, self.path = None, path
        self.sock.listen(64)
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
        try:
            self.sock.shutdown(socket.SHUT_RDWR)   # wakes the accept() blocked in its thread
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class HungHost(LoopbackListener):
    """A TCP listener that accepts and never answers (a host whose libvirtd hangs)."""

    def uri(self) -> str:
        return f"test+tcp://127.0.0.1:{self.port}/nowhere.xml"


class StallingProxy(LoopbackListener):
    """A relay to a real libvirtd's unix socket that passes the server's first `answers` RPC
    messages through and then goes silent (a host that hangs half-way through being read).

    It listens on a unix socket of its own in a directory only root can enter (a relay on a
    TCP port would open a root libvirtd to every local user): `uri()` reaches it."""

    def __init__(self, upstream: Path, answers: int):
        self.upstream, self.answers = upstream, answers
        self.folder = private_dir("stall-")
        super().__init__(self.folder / "sock")

    def uri(self) -> str:
        return f"qemu+unix:///system?socket={self.path}"

    def close(self):
        super().close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def handle(self, client) -> None:
        server = socket.socket(socket.AF_UNIX)
        server.connect(str(self.upstream))
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


class HostileLibvirtd(LoopbackListener):
    """A modified libvirtd that answers every RPC call with an error carrying `message`: whatever
    text a student's host may send back, as libvirt's client really receives it.

    A reply is the libvirt RPC framing (4-byte length, then prog, vers, proc, type=REPLY,
    serial, status=ERROR) followed by an XDR virNetMessageError: code, domain, message (an
    optional string), level, dom (null), str1-3 (null), int1, int2, net (null).
    """

    PROGRAM, VERSION, REPLY, ERROR = 0x20008086, 1, 1, 1

    def __init__(self, message: str):
        self.message = message
        super().__init__()

    def uri(self) -> str:
        return f"qemu+tcp://127.0.0.1:{self.port}/system"

    @staticmethod
    def _string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack(">I", len(raw)) + raw + b"\0" * (-len(raw) % 4)

    def _error(self, proc: int, serial: int) -> bytes:
        body = (struct.pack(">ii", 1, 7)                        # VIR_ERR_INTERNAL_ERROR, VIR_FROM_RPC
                + struct.pack(">I", 1) + self._string(self.message)
                + struct.pack(">i", 2)                          # VIR_ERR_ERROR
                + struct.pack(">IIIIiiI", 0, 0, 0, 0, 0, 0, 0))
        header = struct.pack(">IIiIII", self.PROGRAM, self.VERSION, proc, self.REPLY, serial, self.ERROR)
        return struct.pack(">I", 4 + len(header) + len(body)) + header + body

    def handle(self, client) -> None:
        threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client) -> None:
        buffer = b""
        try:
            while data := client.recv(65536):
                buffer += data
                while len(buffer) >= 4 and len(buffer) >= struct.unpack(">I", buffer[:4])[0]:
                    size = struct.unpack(">I", buffer[:4])[0]
                    _, _, proc, _, serial, _ = struct.unpack(">IIiIII", buffer[4:28])
                    buffer = buffer[size:]
                    client.sendall(self._error(proc, serial))
        except OSError:
            pass


class Relay:
    """A TCP relay to the host at `upstream_uri` (on loopback) that can be cut (every connection
    dropped, nothing listening: the host went away) and restored on the same port (it came back).

    It relays bytes only: a lab host's TLS goes through it, so it opens nothing to a client
    without the lab hosts' certificate."""

    def __init__(self, upstream_uri: str):
        self.upstream_uri = upstream_uri
        self.upstream_port = urlsplit(upstream_uri).port
        self.port = free_port()
        self.listener: LoopbackListener | None = None
        self.restore()

    def uri(self) -> str:
        """The upstream URI with the relay's port instead."""
        return self.upstream_uri.replace(f":{self.upstream_port}/", f":{self.port}/", 1)

    def restore(self) -> None:
        relay = self

        class Forward(LoopbackListener):
            def __init__(self):
                self.sock = socket.socket()
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.sock.bind(("127.0.0.1", relay.port))
                self.sock.listen(64)
                self.port, self.held = relay.port, []
                threading.Thread(target=self._accept, daemon=True).start()

            def handle(self, client):
                server = socket.create_connection(("127.0.0.1", relay.upstream_port))
                self.held.append(server)
                for src, dst in ((client, server), (server, client)):
                    threading.Thread(target=pipe, args=(src, dst), daemon=True).start()

        self.listener = Forward()

    def cut(self) -> None:
        if self.listener is not None:
            for conn in self.listener.held:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.listener.close()
            self.listener = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cut()


def pipe(src, dst) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
