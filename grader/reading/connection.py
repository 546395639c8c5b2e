"""The one way to reach a libvirt host: bounded opens, keepalive, and the client event loop.

Everything that talks to a host goes through `open_host`: grading (read-only, always), "check my
work" cells, `lab start`/`finish` (read-write, said explicitly with `write=True`) and the lab
hosts' own readiness probes. libvirt has no setting for the time things take, so this module
supplies it:

* Connecting: tcp and tls use a plain blocking connect, and a host that accepts the connection
  and then never answers blocks the open forever. The open therefore runs where it can be
  abandoned: in the worker of a batch (grader.reading.batch), or in `bounded`'s daemon thread.
  For qemu+ssh, ssh itself is told to give up: the URI gets a `command=` wrapper that runs ssh
  with a connect timeout, server-alive probes, no prompts and nothing forwarded. A URI that
  names a program of its own is refused (grader.core.uris: URIs are data).
* Reading: once open, the connection gets libvirt keepalive (`setKeepAlive`), which needs an
  event loop in the client: `virEventRegisterDefaultImpl` plus a daemon thread running
  `virEventRunDefaultImpl`. A host that stops answering mid-way is dropped by libvirt after
  interval * (count + 1) seconds; the whole-host deadline (`Limits.timeout`) bounds the rest.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import queue
import shlex
import shutil
import stat
import tempfile
import threading
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import urlsplit

import libvirt

from grader.core.uris import params, runs_program
from grader.errors import HostUnreachable, UsageError, one_line
from grader.reading.limits import MiB, Limits  # noqa: F401 - part of this module's interface



def quiet_libvirt() -> None:
    """libvirt-python prints every error to stderr by default, even when the caller handles it;
    every error is reported by us, once, in one line."""
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


quiet_libvirt()


# --- the client event loop (keepalive needs it) ------------------------------------------------

_loop_lock = threading.Lock()
_loop_started = False


def ensure_event_loop() -> None:
    """Register libvirt's default event loop once and run it in a daemon thread."""
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run():
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _loop_started = True


# --- ssh -----------------------------------------------------------------------------------------

#: Options every ssh the grader runs gets: give up in time, never prompt, forward nothing, offer
#: only the keys named for it. Host keys are checked as the user's ssh config says
#: (docs/instructor.md: collect them once and set StrictHostKeyChecking=yes), or against the
#: URI's known_hosts= file only.
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ForwardAgent=no", "-o", "ForwardX11=no",
               "-o", "ClearAllForwardings=yes", "-o", "IdentitiesOnly=yes")

_wrapper_dir: Path | None = None
_wrapper_lock = threading.Lock()


def _private_dir() -> Path:
    """A directory only this process created (mkdtemp: unpredictable name, mode 0700), removed
    at exit. Never a fixed path in /tmp, which another local user could create first."""
    global _wrapper_dir
    with _wrapper_lock:
        if _wrapper_dir is None:
            _wrapper_dir = Path(tempfile.mkdtemp(prefix="lab-grader-"))
            atexit.register(shutil.rmtree, _wrapper_dir, True)
        return _wrapper_dir


def ssh_wrapper(limits: Limits, folder: Path | None = None, known_hosts: str | None = None) -> Path:
    """A `command=` for libvirt's ssh transport: ssh with timeouts, no prompts, no forwarding.
    With `known_hosts` (the URI's known_hosts=, which libvirt's ssh transport ignores) ssh
    trusts only the host keys in that file (StrictHostKeyChecking=yes)."""
    folder = folder or _private_dir()
    alive = max(1, int(limits.keepalive_interval))
    connect = max(1, int(limits.connect_deadline))
    options = " ".join(SSH_OPTIONS)
    pinned = (f"-o UserKnownHostsFile={shlex.quote(known_hosts)} -o StrictHostKeyChecking=yes "
              if known_hosts else "")
    script = ("#!/bin/sh\n"
              f"exec ssh -o ConnectTimeout={connect} -o ServerAliveInterval={alive} "
              f"-o ServerAliveCountMax={limits.keepalive_count} {pinned}{options} \"$@\"\n")
    name = f"ssh-{connect}-{alive}-{limits.keepalive_count}"
    if known_hosts:
        name += "-" + hashlib.sha256(known_hosts.encode()).hexdigest()[:12]
    path = folder / name
    with _wrapper_lock:
        if not path.exists() or path.read_text() != script:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ssh-")
            with os.fdopen(fd, "w") as handle:
                handle.write(script)
            os.chmod(tmp, stat.S_IRWXU)
            os.replace(tmp, path)
    return path


def connect_uri(uri: str, limits: Limits, wrapper: Path | None = None) -> str:
    """The URI actually opened: qemu+ssh URIs get the ssh wrapper as their `command=` (pinned
    to the URI's known_hosts= when it names one). A URI that would run a program of its own
    (ext, command=, netcat=) or drop host checks is refused here too, whatever let it through
    (grader.core.uris)."""
    refused = runs_program(uri)
    if refused:
        raise UsageError(f"libvirt URI {uri!r} is refused: {refused}")
    parts = urlsplit(uri)
    if parts.scheme.partition("+")[2] != "ssh":
        return uri
    known_hosts = dict(params(parts.query)).get("known_hosts")
    wrapper = wrapper or ssh_wrapper(limits, known_hosts=known_hosts)
    return f"{uri}{'&' if parts.query else '?'}command={wrapper}"


# --- opening -----------------------------------------------------------------------------------

def open_host(uri: str, limits: Limits = Limits(), write: bool = False):
    """A connection with keepalive: read-only unless `write` is said. Blocking: a host that
    never answers blocks it, so call it in a batch worker or through `bounded`."""
    ensure_event_loop()
    target = connect_uri(uri, limits)
    try:
        conn = libvirt.open(target) if write else libvirt.openReadOnly(target)
    except libvirt.libvirtError as err:
        raise HostUnreachable(f"cannot connect to {uri}: {one_line(err)}") from None
    if conn is None:  # older bindings returned None
        raise HostUnreachable(f"cannot connect to {uri}")
    try:
        conn.setKeepAlive(limits.keepalive_interval, limits.keepalive_count)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:  # local drivers have no keepalive
            close(conn)
            raise HostUnreachable(f"cannot use {uri}: {one_line(err)}") from None
    return conn


def close(conn) -> None:
    try:
        conn.close()
    except libvirt.libvirtError:
        pass


def is_dead(conn) -> bool:
    """True when libvirt dropped the connection (keepalive) or it was closed."""
    try:
        return conn.isAlive() != 1
    except libvirt.libvirtError:
        return True


T = TypeVar("T")


def bounded(func: Callable[[], T], seconds: float, on_timeout: str) -> T:
    """Run a blocking call in a daemon thread and wait at most `seconds` for it; Ctrl-C stops
    the wait at once. On timeout the thread is abandoned (it dies with the process) and
    HostUnreachable says `on_timeout`."""
    box: queue.Queue = queue.Queue(maxsize=1)

    def run():
        try:
            box.put((True, func()))
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            box.put((False, err))

    threading.Thread(target=run, name="bounded-call", daemon=True).start()
    try:
        ok, value = box.get(timeout=seconds)
    except queue.Empty:
        raise HostUnreachable(on_timeout) from None
    if ok:
        return value
    raise value


def open_bounded(uri: str, limits: Limits = Limits(), write: bool = False):
    """`open_host` for a caller that cannot abandon its own thread (lab start, lab hosts)."""
    seconds = limits.connect_deadline
    return bounded(lambda: open_host(uri, limits, write), seconds,
                   f"no answer from {uri} within {seconds:g} s of connecting (connect timeout)")
