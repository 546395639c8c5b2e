"""Capturing check fixtures: drive a real host into a state, grade it, keep the evidence.

Each lab's `fixtures/capture.py` lists its cases (the commands or API steps that make a state,
and the grade that state must get); this module does the rest, the same way for every lab:
`lab start`, the steps, `grade --save-evidence`, and the "expect" key that
tests/test_check_fixtures.py asserts offline.

Command steps are virsh arguments: a leading '-' tolerates failure, a leading '!' makes a shell
line. Placeholders: {uri}, {tmp}, the `lab hosts env` variables, {iscsi_host}/{iscsi_port}, and
{ns}, which runs a program inside a lab host's mount namespace (where its /var/lib/libvirt is).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable

BIN = Path(sys.executable).parent


def lab_host_pid(uri: str) -> int:
    """The libvirtd behind a lab host's URI: its mount namespace holds the host's files."""
    from grader.labhosts import daemons
    from grader.labhosts.config import Settings

    settings = Settings.from_env()
    for name in daemons.known(settings):
        if settings.uri(name) == uri and daemons.pid(settings, name):
            return daemons.pid(settings, name)
    raise SystemExit(f"{uri} is not a lab host of LAB_HOME={settings.home}")


class Placeholders(dict):
    """The values a step may name; {ns} is looked up only by the steps that use it."""

    def __missing__(self, key):
        if key == "ns":
            self["ns"] = f"nsenter -t {lab_host_pid(self['uri'])} -m"
            return self["ns"]
        raise KeyError(key)


def placeholders(uri: str, tmp: str) -> Placeholders:
    host, _, port = os.environ.get("LAB_ISCSI_HOST", "").partition(":")
    return Placeholders({**os.environ, "uri": uri, "tmp": tmp, "iscsi_host": host,
                         "iscsi_port": port or "3260"})


def run(command: str, values: dict[str, str]) -> None:
    """One step: `virsh -c URI command`, or a shell line when it starts with '!'."""
    tolerate = command.startswith("-")
    command = command.lstrip("-").format_map(values)
    if command.startswith("!"):
        argv = ["sh", "-c", command[1:]]
    else:
        argv = ["virsh", "-q", "-c", values["uri"], *command.split()]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode and not tolerate:
        raise SystemExit(f"{command!r} failed: {done.stderr.strip()}")


def _host_args(uris: dict[str, str]) -> list[str]:
    return [arg for role, uri in uris.items() for arg in ("--host", f"{role}={uri}")]


def capture(lab_id: str, uris: dict[str, str], out: Path, expect: dict,
            steps: Iterable[str] | Callable | None = None, after: Iterable[str] = ()) -> Path:
    """`lab start`, the steps (virsh commands, or a function given one read-write connection
    per role), then the graded evidence with its expectation, written to `out`. `after`: the
    commands a user runs once the state is graded, where `lab start` would refuse it (a pool of
    the lab's name on another directory: grader.provision.Place)."""
    hosts = _host_args(uris)
    subprocess.run([BIN / "lab", "start", lab_id, *hosts], check=True, capture_output=True)
    if callable(steps):
        import libvirt

        conns = [libvirt.open(uri) for uri in uris.values()]
        try:
            steps(*conns)
        finally:
            for conn in conns:
                conn.close()
    elif steps:
        with tempfile.TemporaryDirectory() as tmp:
            values = placeholders(uris["A"], tmp)
            for command in steps:
                run(command, values)
    subprocess.run([BIN / "grade", lab_id, *hosts, "--save-evidence", out, "--format", "json"],
                   capture_output=True)
    data = json.loads(Path(out).read_text())
    data["expect"] = expect
    Path(out).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        for command in after:
            run(command, placeholders(uris["A"], tmp))
    return Path(out)


def main(lab_id: str, cases: dict, folder: Path, roles: tuple[str, ...] = ("A",),
         uris_for_case: Callable[[str, dict], dict] | None = None,
         after: dict[str, list[str]] | None = None) -> None:
    """`capture.py URI... [CASE ...]`: re-capture the named cases (default: all); `after`: a
    case's commands to run once it is graded (see capture)."""
    args = sys.argv[1:]
    if len(args) < len(roles):
        raise SystemExit(f"usage: capture.py {' '.join('URI_' + r for r in roles)} [CASE ...]")
    uris = dict(zip(roles, args[:len(roles)]))
    for case in args[len(roles):] or cases:
        steps, expect = cases[case]
        case_uris = uris_for_case(case, uris) if uris_for_case else uris
        print(capture(lab_id, case_uris, folder / f"{case}.json", expect, steps,
                      (after or {}).get(case, ())))
