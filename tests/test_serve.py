"""The watch page's server (`grade --watch --serve`) against what a web page or a careless client
can do to it: a DNS-rebinding Host gets 421 and nothing of the class, a client that sends slowly
or not at all is cut off, and connections beyond the cap get 503 without holding a thread."""
from __future__ import annotations

import socket
import time

import pytest

from grader.classroom.serve import PageServer, host_allowed, parse_address

PAGE = "<table><tr><td>ana</td><td>10/10</td></tr></table>"


@pytest.fixture
def server(request):
    """A page server on a free loopback port; `request.param` overrides its limits."""
    options = getattr(request, "param", {})
    served = PageServer(parse_address("127.0.0.1:0"), lambda: PAGE, lambda: {"passed": {"x": 1}},
                        **options).start()
    yield served
    served.stop()


def ask(server: PageServer, host: str | None, path: str = "/") -> tuple[int, bytes]:
    """One raw HTTP request with exactly this Host header (None: none at all)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        head = f"GET {path} HTTP/1.1\r\n" + (f"Host: {host}\r\n" if host is not None else "") + "\r\n"
        conn.sendall(head.encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def test_the_page_answers_to_its_own_address_and_localhost(server):
    port = server.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST.:{port}", f"[::1]:{port}"):
        status, body = ask(server, host)
        assert (status, body) == (200, PAGE.encode()), host
    assert ask(server, f"127.0.0.1:{port}", "/state.json") == (200, b'{"passed": {"x": 1}}')


def test_a_rebinding_page_gets_421_and_no_names(server):
    """evil.example resolved to 127.0.0.1: the browser sends Host: evil.example:PORT."""
    port = server.port
    for host in (f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", f"127.0.0.1:{port + 1}",
                 "127.0.0.1", "", None, f"localhost:{port}@evil.example", f"::1:{port}"):
        for path in ("/", "/state.json"):
            status, body = ask(server, host, path)
            assert status in (400, 421), (host, path, status)
            assert b"ana" not in body and b"passed" not in body


def test_host_rules():
    names = frozenset({"localhost", "127.0.0.1", "::1", "projector.lab"})
    assert host_allowed("projector.lab:8080", names, 8080, False)
    assert host_allowed("localhost", names, 80, False)                    # port 80 may be left out
    assert not host_allowed("localhost", names, 8080, False)
    assert not host_allowed("10.0.0.5:8080", names, 8080, False)
    assert host_allowed("10.0.0.5:8080", names, 8080, True)               # bound to all addresses
    assert host_allowed("[fd00::5]:8080", names, 8080, True)
    assert not host_allowed("evil.example:8080", names, 8080, True)       # but never another name
    assert not host_allowed("[::1]:80x", names, 80, False)


@pytest.mark.parametrize("server", [{"timeout": 0.5, "deadline": 2.0}], indirect=True)
def test_a_silent_or_trickling_client_is_cut_off(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as silent:
        assert silent.recv(100) == b""                 # closed by the server, not by our timeout
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow:
        slow.sendall(b"GET / HTTP/1.1\r\n")
        cut = False
        while time.monotonic() - started < 15:
            try:
                slow.sendall(b"X-Slow: y\r\n")         # each line well inside the per-read timeout
                slow.settimeout(0.3)
                if slow.recv(100) == b"":
                    cut = True
                    break
            except socket.timeout:
                continue
            except OSError:
                cut = True
                break
        assert cut, "a client trickling one header line at a time was never cut off"


@pytest.mark.parametrize("server", [{"max_connections": 2, "timeout": 30.0, "deadline": 60.0}], indirect=True)
def test_connections_beyond_the_cap_get_503_and_the_page_again_once_one_closes(server):
    port = server.port
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
    try:
        busy = None
        for _ in range(100):                          # the server accepts the idle two first
            status, body = ask(server, f"127.0.0.1:{port}")
            if status == 503:
                busy = body
                break
            time.sleep(0.05)
        assert busy == b""
        idle.pop().close()
        for _ in range(100):
            status, body = ask(server, f"127.0.0.1:{port}")
            if status == 200:
                break
            time.sleep(0.05)
        assert (status, body) == (200, PAGE.encode())
    finally:
        for conn in idle:
            conn.close()
