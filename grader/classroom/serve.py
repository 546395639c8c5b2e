"""Serving the watch page (`grade --watch --serve [HOST:]PORT`): read-only, on loopback by default.

Only GET of `/` (the page) and `/state.json` (the pass counts) is answered; the page carries a
Content-Security-Policy that allows no script and nothing from elsewhere, so even text that got
past the escaping could not run. The page is rendered after each poll and served from memory.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from grader.errors import UsageError

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


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


class PageServer:
    def __init__(self, address: tuple[str, int], page: Callable[[], str], state: Callable[[], dict]):
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server name
                if self.path.split("?")[0] == "/":
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
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                """Quiet: the instructor's terminal shows the class, not requests."""

        self.page, self.state = page, state
        try:
            self.httpd = ThreadingHTTPServer(address, Handler)
        except OSError as err:
            raise UsageError(f"cannot serve the class page on {address[0]}:{address[1]}: {err.strerror}; "
                             "choose another --serve port") from None
        self.httpd.daemon_threads = True

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
