"""Serving the watch page (`grade --watch --serve [HOST:]PORT`): read-only, on loopback by default.

Only GET of `/` (the page) and `/state.json` (the pass counts) is answered; the page carries a
Content-Security-Policy that allows no script and nothing from elsewhere, so even text that got
past the escaping could not run. The page is rendered after each poll and served from memory.

The page holds students' names and scores, and the server is reachable from any browser on the
instructor's machine, so it also guards against what a web page could do with it:

* DNS rebinding: a page of another site, whose name is made to resolve to this address, sends
  that name as its Host. Only the address the server was given and bound to, and localhost, are
  answered (any IP address too when bound to all of them: a rebinding needs a name); anything
  else gets 421 and nothing of the class.
* Slow or idle clients: each read and write of a connection times out (`timeout`), and a
  connection is closed after `deadline` seconds however it trickles.
* Floods: at most `max_connections` are served at once; one more gets 503 at once, no thread.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from grader.errors import UsageError

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
#: Names every server answers to besides its own address.
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_CONNECTIONS = 32     # a classroom screen and a few browsers; far more than it needs
TIMEOUT = 10.0           # seconds for one read or write of a connection
DEADLINE = 30.0          # seconds one connection may last in all (one request: HTTP/1.0)
_BUSY = b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def parse_address(value: str) -> tuple[str, int]:
    """[HOST:]PORT, 127.0.0.1 when no host is given; [::1]:PORT for IPv6."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]") if sep else "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535 or (sep and not host):
        raise UsageError(f"--serve {value!r}: give a port (8080) or HOST:PORT (127.0.0.1:8080)")
    return host, number


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def host_allowed(header: str | None, names: frozenset[str], port: int, any_ip: bool) -> bool:
    """Whether a request's Host header names this server: one of `names` (or, with `any_ip`,
    any IP address) and this port (no port only when it is 80). Pure."""
    if not header:
        return False
    header = header.strip().lower()
    if header.startswith("["):
        name, _, rest = header[1:].partition("]")
        given_port = rest[1:] if rest.startswith(":") else (None if not rest else "bad")
    else:
        name, sep, given_port = header.rpartition(":") if ":" in header else (header, "", None)
        if sep and ":" in name:          # a bare IPv6 address has no place in a Host header
            return False
    if given_port is None:
        port_ok = port == 80
    else:
        port_ok = given_port.isdigit() and int(given_port) == port
    name = name.rstrip(".")
    return port_ok and (name in names or any_ip and _is_ip(name))


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on the connections it serves at once."""

    daemon_threads = True

    def __init__(self, address, handler, max_connections: int):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            try:
                request.settimeout(0)
                request.send(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        """A client that went away or was cut off is no news for the instructor's terminal."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class PageServer:
    def __init__(self, address: tuple[str, int], page: Callable[[], str], state: Callable[[], dict],
                 max_connections: int = MAX_CONNECTIONS, timeout: float = TIMEOUT,
                 deadline: float = DEADLINE):
        served = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self):
                self.timeout = timeout            # StreamRequestHandler applies it to the socket
                super().setup()
                self.closer = threading.Timer(deadline, self._close)
                self.closer.daemon = True
                self.closer.start()

            def _close(self):
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            def finish(self):
                self.closer.cancel()
                try:
                    super().finish()
                except OSError:
                    pass

            def do_GET(self):  # noqa: N802 - the http.server name
                if not served.answers_to(self.headers.get("Host")):
                    self._send(421, "text/plain", b"this page answers only to the address it was "
                                                  b"served on, or localhost\n")
                elif self.path.split("?")[0] == "/":
                    self._send(200, "text/html; charset=utf-8", served.page().encode())
                elif self.path.split("?")[0] == "/state.json":
                    self._send(200, "application/json", json.dumps(served.state()).encode())
                else:
                    self._send(404, "text/plain", b"not found\n")

            def _send(self, status: int, kind: str, body: bytes):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Security-Policy", POLICY)
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                """Quiet: the instructor's terminal shows the class, not requests."""

        self.page, self.state = page, state
        try:
            self.httpd = _Server(address, Handler, max_connections)
        except OSError as err:
            raise UsageError(f"cannot serve the class page on {address[0]}:{address[1]}: {err.strerror}; "
                             "choose another --serve port") from None
        bound, port = self.httpd.server_address[:2]
        self.port = port
        self.names = LOCAL_NAMES | {address[0].lower().rstrip("."), str(bound).lower()}
        self.any_ip = _is_ip(str(bound)) and ipaddress.ip_address(bound).is_unspecified

    def answers_to(self, host_header: str | None) -> bool:
        return host_allowed(host_header, self.names, self.port, self.any_ip)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def start(self) -> "PageServer":
        threading.Thread(target=self.httpd.serve_forever, name="watch-page", daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
