"""Suspending VM hosts at `down` and resuming them at `up`: QEMU's own migration to a file.

A cold boot under TCG costs a minute; resuming a saved state costs about a second, and keeps
everything that ran inside (the guests' domains, NFS mounts, iSCSI sessions). At `down`, QEMU
pauses every host first (the storage host and its clients stop at the same instant), then
streams each one's state into `state` in its host directory (`migrate "exec:cat > FILE"`) and
quits. At `up`, QEMU starts with the same command line plus `-incoming "exec:cat FILE" -S`,
loads it paused; once every host has loaded they all continue together, and each guest's
clock (stopped while it was saved) is set from this machine's through a virtio-serial port
(a line with the time; ssh would cost seconds per host under emulation).

Measured here against QEMU's other mechanism, `savevm` into the root overlay and `-loadvm`:
both save and load in about half a second each; a file was chosen because it is one thing
to check and delete (internal snapshots also revert the disks, stay in the overlay and must
be deleted after loading).

A state is only resumed with the disks it was saved with and the exact QEMU command line,
image, CA and QEMU version it ran under (`key`): anything else (a new image or recipe, a
purge, a new CA) means a cold boot. A state is deleted as soon as it is loaded: the disks
move on from there.
"""
from __future__ import annotations

import hashlib
import json
import shlex
import os
import time
from pathlib import Path

from grader.labhosts import pki, procs
from grader.labhosts.config import Settings
from grader.labhosts.qmp import QMP, QMPError

#: Saving streams the guest's RAM (a few hundred MiB) into a file: seconds at most.
SAVE_TIMEOUT = 120.0
LOAD_TIMEOUT = 120.0
#: QEMU throttles migrations to 32 MiB/s by default; a file on this machine needs no limit.
UNLIMITED = 1 << 40


def state_file(hdir: Path) -> Path:
    return hdir / "state"


def key_file(hdir: Path) -> Path:
    return hdir / "state.json"


def qmp_socket(hdir: Path) -> Path:
    return hdir / "qmp.sock"


def key(settings: Settings, argv: list[str], qemu_version: str, image_build: str = "") -> str:
    """What a saved state is only valid with: the command line (image, kernel, devices,
    identity), the very image file (its build: the same recipe may be rebuilt), the CA that
    signed its server certificate, and the QEMU that saved it."""
    data = {"argv": argv, "ca": pki.fingerprint(settings), "qemu": qemu_version,
            "image": image_build}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def discard(hdir: Path) -> None:
    for path in (state_file(hdir), key_file(hdir), hdir / "state.partial"):
        path.unlink(missing_ok=True)


def saved(hdir: Path) -> bool:
    return state_file(hdir).is_file() and key_file(hdir).is_file()


def usable(hdir: Path, wanted: str) -> str | None:
    """Why the saved state of this host cannot be resumed (None: it can)."""
    if not saved(hdir):
        return "no saved state"
    try:
        recorded = json.loads(key_file(hdir).read_text()).get("key")
    except ValueError:
        recorded = None
    if recorded != wanted:
        return "its saved state is from another image, CA, QEMU or set of hosts"
    return None


def resume_args(hdir: Path) -> list[str]:
    """Added to the host's command line: load the state, stay paused until told."""
    return ["-incoming", f"exec:cat {shlex.quote(str(state_file(hdir)))}", "-S"]


# ---- down ---------------------------------------------------------------------------------------

def suspend(hosts: dict[str, tuple[Path, int]], keys: dict[str, str]) -> dict[str, str]:
    """Pause every host, save each one's state, then quit them; {name: why} for the hosts
    that could not be saved (still running, paused: the caller powers them off).

    `hosts`: name -> (host directory, QEMU pid); `keys`: name -> the key of its command line."""
    failed: dict[str, str] = {}
    paused = []
    for name, (hdir, _) in hosts.items():          # all at once: a consistent moment
        try:
            with QMP(qmp_socket(hdir)) as qmp:
                qmp.command("stop")
            paused.append(name)
        except QMPError as err:
            failed[name] = str(err)
    for name in paused:
        hdir, pid = hosts[name]
        discard(hdir)
        partial = hdir / "state.partial"
        try:
            with QMP(qmp_socket(hdir), timeout=SAVE_TIMEOUT) as qmp:
                qmp.command("migrate-set-parameters", **{"max-bandwidth": UNLIMITED})
                qmp.command("migrate", uri=f"exec:cat > {shlex.quote(str(partial))}")
                qmp.wait_migration(time.monotonic() + SAVE_TIMEOUT)
                partial.rename(state_file(hdir))
                key_file(hdir).write_text(json.dumps({"key": keys[name],
                                                      "saved": time.time()}))
                qmp.command("quit")
        except (QMPError, OSError) as err:
            discard(hdir)
            failed[name] = str(err)
            continue
        deadline = time.monotonic() + 10
        while procs.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    return failed


# ---- up -----------------------------------------------------------------------------------------

def wait_loaded(hdir: Path, pid_alive) -> None:
    """Until QEMU has loaded the state (it stays paused: -S); QMPError if it could not."""
    deadline = time.monotonic() + LOAD_TIMEOUT
    while not qmp_socket(hdir).exists():
        if not pid_alive() or time.monotonic() > deadline:
            raise QMPError("QEMU exited before loading the saved state")
        time.sleep(0.05)
    with QMP(qmp_socket(hdir), timeout=LOAD_TIMEOUT) as qmp:
        qmp.wait_migration(deadline)
        status = qmp.command("query-status")["status"]
        if status != "paused" and status != "running":
            raise QMPError(f"QEMU is {status} after loading the saved state")


def cont(hdir: Path) -> None:
    with QMP(qmp_socket(hdir)) as qmp:
        qmp.command("cont")


def set_clock(fifo: Path) -> bool:
    """Tell a resumed guest this machine's time (its clock stood still while it was saved):
    one line into its clock port (guest/labhost-clock.service sets it at once); False when
    the port is not open."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        os.write(fd, f"{time.time():.6f}\n".encode())
    except OSError:
        return False
    finally:
        os.close(fd)
    return True
