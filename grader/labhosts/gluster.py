"""The course's GlusterFS share: one volume per LAB_HOME on the machine's one glusterd.

glusterd is one per machine (/var/lib/glusterd, port 24007), so LAB_HOMEs share it and each
gets its own volume (`labshare` for the default LAB_HOME, `labshare-<hash>` for others). We
start glusterd on loopback only if none runs, and stop it again only if we started it and no
volume at all is left: another LAB_HOME's hosts, or the machine's own volumes, keep it alive.
A machine-wide lock serialises gluster transactions (glusterd rejects concurrent ones).
"""
from __future__ import annotations

import fcntl
import shutil
import subprocess
import time
from contextlib import contextmanager

from grader.errors import EnvironmentProblem
from grader.labhosts import procs
from grader.labhosts.config import MACHINE_DIR, Settings

PID_FILE = MACHINE_DIR / "glusterd.pid"
LOG_DIR = MACHINE_DIR


@contextmanager
def machine_lock():
    MACHINE_DIR.mkdir(parents=True, exist_ok=True)
    with open(MACHINE_DIR / "gluster.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _gluster(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["gluster", "--mode=script", *args],
                            capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        why = (result.stderr or result.stdout).strip().splitlines()
        raise EnvironmentProblem(
            f"gluster {' '.join(args[:2])} failed: {why[-1] if why else 'no message'}; "
            "see /var/log/glusterfs/glusterd.log")
    return result


def glusterd_pids() -> list[int]:
    return procs.pids_by_comm("glusterd")


def _ours() -> int | None:
    pid = procs.read_pid(PID_FILE)
    return pid if pid in glusterd_pids() else None


def _start_glusterd() -> None:
    """glusterd daemonises itself; only its management port on loopback (bricks follow it)."""
    subprocess.run(
        ["glusterd", "-p", str(PID_FILE),
         "--xlator-option", "management.transport.socket.bind-address=127.0.0.1"],
        capture_output=True, text=True, timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _gluster("volume", "list", check=False).returncode == 0:
            return
        if not glusterd_pids() and time.monotonic() > deadline - 25:
            break
        time.sleep(0.2)
    _stop_glusterd()
    raise EnvironmentProblem(
        "glusterd did not start; see /var/log/glusterfs/glusterd.log "
        "(is port 24007 taken by another program?)")


def _stop_glusterd() -> None:
    pid = _ours()
    if pid:
        procs.terminate([pid])
    PID_FILE.unlink(missing_ok=True)


def volumes() -> list[str]:
    out = _gluster("volume", "list").stdout.strip()
    return [] if not out or out.startswith("No volumes") else out.splitlines()


def _status(volume: str) -> str | None:
    """"Started", "Stopped", "Created", or None if the volume does not exist."""
    result = _gluster("volume", "info", volume, check=False)
    if result.returncode != 0:
        return None
    for line in result.stdout.splitlines():
        if line.startswith("Status:"):
            return line.split(":", 1)[1].strip()
    return None


def is_up(settings: Settings) -> bool:
    if not glusterd_pids():
        return False
    with machine_lock():
        return _status(settings.share_volume) == "Started"


def ensure(settings: Settings) -> bool:
    """glusterd running and this LAB_HOME's volume started; True if this call changed anything."""
    with machine_lock():
        changed = False
        if not glusterd_pids():
            _start_glusterd()
            changed = True
        volume = settings.share_volume
        status = _status(volume)
        if status is None:
            brick = settings.share_dir / "brick"
            shutil.rmtree(brick, ignore_errors=True)  # a brick keeps its old volume's id
            brick.mkdir(parents=True)
            # a loopback brick host needs `force`: fine, this volume never leaves the machine
            _gluster("volume", "create", volume, f"{settings.share_host}:{brick}", "force")
            changed = True
        if status != "Started":
            _gluster("volume", "start", volume, "force")
            changed = True
        return changed


def remove(settings: Settings) -> None:
    """Delete this LAB_HOME's volume; stop glusterd if we started it and nothing else uses it."""
    if not glusterd_pids():
        shutil.rmtree(settings.share_dir / "brick", ignore_errors=True)
        PID_FILE.unlink(missing_ok=True)
        return
    with machine_lock():
        volume = settings.share_volume
        if _status(volume) is not None:
            _gluster("volume", "stop", volume, "force", check=False)
            _gluster("volume", "delete", volume)
        shutil.rmtree(settings.share_dir / "brick", ignore_errors=True)
        if _ours() and not volumes():
            _stop_glusterd()
