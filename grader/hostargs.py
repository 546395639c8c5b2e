"""Parsing `--host URI` / `--host ROLE=URI` into role -> libvirt URI, with one-line errors."""
from __future__ import annotations

import os
import re

from grader.errors import UsageError

_URI = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s/]*/[^\s]*$")
_ROLE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def default_uri() -> str:
    return os.environ.get("LIBVIRT_DEFAULT_URI") or "qemu:///system"


def check_uri(uri: str) -> str:
    """A libvirt URI looks like driver[+transport]://[user@][host][:port]/path[?params]."""
    if not _URI.match(uri):
        raise UsageError(f"malformed libvirt URI {uri!r}: expected e.g. qemu:///system or "
                         "qemu+ssh://root@10.0.0.12/system")
    return uri


def parse_hosts(values: tuple[str, ...] | list[str], roles: tuple[str, ...]) -> dict[str, str]:
    """Map each of the lab's roles to a URI. A bare URI means role A.

    With no --host at all, role A is the default host and any other role comes from
    $LAB_URI_<ROLE> (what `lab hosts env` exports), so `grade lab4` works on lab hosts as is.
    """
    hosts: dict[str, str] = {}
    for value in values:
        role, uri = "A", value
        head, sep, tail = value.partition("=")
        if sep and _ROLE.match(head):
            role, uri = head.upper(), tail
        if role in hosts:
            raise UsageError(f"role {role} given twice in --host: give each role once")
        hosts[role] = check_uri(uri)
    if not values:
        hosts["A"] = check_uri(default_uri())
        for role in roles:
            if role != "A" and os.environ.get(f"LAB_URI_{role}"):
                hosts[role] = check_uri(os.environ[f"LAB_URI_{role}"])
    unknown = [r for r in hosts if r not in roles]
    if unknown:
        raise UsageError(f"this lab has no role {unknown[0]}: its roles are {', '.join(roles)}")
    missing = [r for r in roles if r not in hosts]
    if missing:
        needed = " ".join(f"--host {r}=URI" for r in missing)
        raise UsageError(f"this lab needs roles {', '.join(roles)}: add {needed}")
    return hosts
