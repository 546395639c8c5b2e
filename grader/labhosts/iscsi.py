"""The course's iSCSI target: a user-space tgtd per LAB_HOME, on loopback, with two LUNs.

tgtd needs no kernel initiator or device-mapper (this kind of machine has neither): libvirt's
`iscsi-direct` pools and QEMU's libiscsi talk to it directly. One tgtd per LAB_HOME, told apart
by its portal port and its management channel (-C, an abstract unix socket), so LAB_HOMEs never
share a target.
"""
from __future__ import annotations

import os
import subprocess
import time

from grader.errors import EnvironmentProblem
from grader.labhosts import procs
from grader.labhosts.config import Settings

LUNS = 2
LUN_SIZE = 1 << 30  # sparse: a few MiB actually used


def _pid_file(settings: Settings):
    return settings.iscsi_dir / "tgtd.pid"


def pid(settings: Settings) -> int | None:
    p = procs.read_pid(_pid_file(settings))
    return p if procs.runs(p, "tgtd") else None


def _tgtadm(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["tgtadm", "-C", str(settings.iscsi_control_port), "--lld", "iscsi", *args],
        capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        why = (result.stderr or result.stdout).strip() or "no message"
        raise EnvironmentProblem(f"tgtadm {' '.join(args[:4])} failed: {why}")
    return result


def is_up(settings: Settings) -> bool:
    return pid(settings) is not None and _tgtadm(
        settings, "--op", "show", "--mode", "target", check=False).returncode == 0


def ensure(settings: Settings) -> bool:
    """tgtd running with this LAB_HOME's target and LUNs; True if this call started it."""
    if is_up(settings):
        return False
    stop(settings)
    settings.iscsi_dir.mkdir(parents=True, exist_ok=True)
    log = settings.iscsi_dir / "tgtd.log"
    log.write_text("")
    procs.spawn_detached(
        ["tgtd", "-f", "-C", str(settings.iscsi_control_port),
         "--iscsi", f"portal=127.0.0.1:{settings.iscsi_port}"],
        log, _pid_file(settings))
    try:
        _wait_ready(settings, log)
        _tgtadm(settings, "--op", "new", "--mode", "target", "--tid", "1",
                "-T", settings.iscsi_target)
        for lun in range(1, LUNS + 1):
            backing = settings.iscsi_dir / f"lun{lun}.img"
            if not backing.exists():
                with open(backing, "wb") as f:
                    os.ftruncate(f.fileno(), LUN_SIZE)
            _tgtadm(settings, "--op", "new", "--mode", "logicalunit", "--tid", "1",
                    "--lun", str(lun), "-b", str(backing))
        # any initiator name: students pick their own IQN in their pool definitions
        _tgtadm(settings, "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL")
    except BaseException:
        stop(settings)
        raise
    return True


def _wait_ready(settings: Settings, log) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        p = procs.read_pid(_pid_file(settings))
        if p is not None and not procs.alive(p):
            raise EnvironmentProblem(
                f"tgtd died at start ({procs.tail(log) or 'no message'}); see {log}")
        if p is not None and procs.port_open(settings.iscsi_port) and _tgtadm(
                settings, "--op", "show", "--mode", "target", check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise EnvironmentProblem(f"tgtd did not answer within 20 s; see {log}")


def stop(settings: Settings) -> None:
    """tgtd ignores SIGTERM and refuses to shut down while it has targets: delete the target
    (even with sessions), then ask tgtd to exit, then make sure."""
    p = pid(settings)
    if p:
        _tgtadm(settings, "--op", "delete", "--mode", "target", "--tid", "1", "--force",
                check=False)
        subprocess.run(["tgtadm", "-C", str(settings.iscsi_control_port), "--op", "delete",
                        "--mode", "system"], capture_output=True, timeout=30)
        deadline = time.monotonic() + 5
        while procs.alive(p) and time.monotonic() < deadline:
            time.sleep(0.05)
        procs.terminate([p], timeout=2)
    _pid_file(settings).unlink(missing_ok=True)
