"""Restarting only libvirtd of a lab host, as `systemctl restart libvirtd` does on a real one: the
QEMU processes keep running and the new libvirtd finds them again from its status files.

A light host's libvirtd lives in the host's private mount namespace (grader.labhosts.daemons).
The new one is started in that namespace with the command line, environment and CPUs of the one
it replaces, as /proc shows them, so this keeps working however `lab hosts up` starts libvirtd
(TCP, TLS or unix sockets); it is reached only through the host's own URI (settings.uri) and
found only through its pid files. A VM host's libvirtd is a systemd service of its guest.
"""
from __future__ import annotations

import os
import signal
import time

from grader.labhosts import daemons, procs
from grader.labhosts.config import Settings

STOP_TIMEOUT = 30.0
START_TIMEOUT = 90.0


def restart_light(settings: Settings, name: str) -> tuple[int, int]:
    """Stop libvirtd of light host `name` and start it again; (old pid, new pid)."""
    assert daemons.is_up(settings, name), f"lab host {name} of {settings.home} is not up"
    old = daemons.pid(settings, name)
    ns = procs.mount_ns(old)
    argv, environ = procs.cmdline(old), _environ(old)
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(old)))
    holder = _namespace_holder(settings, name, ns, old)
    os.kill(old, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while procs.alive(old) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not procs.alive(old), f"libvirtd {old} of lab host {name} did not stop"
    hdir = settings.host_dir(name)
    procs.spawn_detached(["nsenter", f"--mount=/proc/{holder}/ns/mnt", "--",
                          "taskset", "-c", cpus, *argv],
                         hdir / "daemon.log", hdir / "libvirtd.pid", env=environ)
    wait_answers(settings.uri(name), lambda: daemons.is_up(settings, name))
    new = daemons.pid(settings, name)
    assert new != old and procs.mount_ns(new) == ns
    return old, new


def _environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        pairs = [item.decode(errors="replace").partition("=") for item in f.read().split(b"\0") if item]
    return {key: value for key, _, value in pairs}


def _namespace_holder(settings: Settings, name: str, ns: str, libvirtd: int) -> int:
    """A process that stays in the host's mount namespace while libvirtd is down: its virtlogd
    (by its pid file), else any other process there (a QEMU)."""
    virtlogd = procs.read_pid(settings.host_dir(name) / "run" / "virtlogd.pid")
    if procs.alive(virtlogd) and procs.mount_ns(virtlogd) == ns:
        return virtlogd
    others = [p for p in procs.pids_in_ns(ns) if p != libvirtd]
    assert others, f"nothing but libvirtd holds lab host {name}'s mount namespace"
    return others[0]


def restart_vm(vmhosts, name: str) -> None:
    """`systemctl restart libvirtd` inside VM host `name`, then wait until its URI answers."""
    done = vmhosts.run(name, "systemctl restart libvirtd", timeout=180)
    assert done.returncode == 0, done.stderr
    wait_answers(vmhosts.uri(name))


def wait_answers(uri: str, ready=lambda: True) -> None:
    """Until libvirt answers read-only on `uri` (its QEMU driver has reconnected to its domains
    once it answers getCapabilities)."""
    from grader.reading import connection

    deadline = time.monotonic() + START_TIMEOUT
    last = None
    while time.monotonic() < deadline:
        if ready():
            try:
                conn = connection.open_bounded(uri, daemons.ANSWER_LIMITS)
                try:
                    conn.getCapabilities()
                    conn.listAllDomains(0)
                    return
                finally:
                    connection.close(conn)
            except Exception as err:      # not yet listening, or still starting
                last = err
        time.sleep(0.2)
    raise AssertionError(f"libvirtd behind {uri} did not answer again within {START_TIMEOUT:.0f} s: {last}")
