"""Which libvirt URI is each of a lab's roles: `--host URI` / `--host ROLE=URI`, or the defaults.

One rule for every front end (grade, lab start/finish, "check my work" cells): role R is
$LAB_URI_<R> (what `lab hosts env` exports); role A falls back to $LIBVIRT_DEFAULT_URI (where
virsh works), then qemu:///system. Pure: the environment is passed in.
"""
from __future__ import annotations

import re
from typing import Mapping

from grader.errors import UsageError

_URI = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s/]*/[^\s]*$")
_ROLE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
LOCAL = "qemu:///system"


def check_uri(uri: str) -> str:
    """A libvirt URI looks like driver[+transport]://[user@][host][:port]/path[?params]."""
    if not isinstance(uri, str) or not _URI.fullmatch(uri):
        raise UsageError(f"malformed libvirt URI {uri!r}: expected e.g. qemu:///system or "
                         "qemu+ssh://root@10.0.0.12/system")
    return uri


def default_uri(role: str, env: Mapping[str, str]) -> str | None:
    """The documented rule for a role given no --host (None: nothing names it)."""
    uri = env.get(f"LAB_URI_{role}")
    if not uri and role == "A":
        uri = env.get("LIBVIRT_DEFAULT_URI") or LOCAL
    return uri or None


def parse_hosts(values: tuple[str, ...] | list[str], roles: tuple[str, ...],
                env: Mapping[str, str]) -> dict[str, str]:
    """Map each of the lab's roles to a URI. A bare URI means role A; roles not given on the
    command line come from the environment (default_uri)."""
    hosts: dict[str, str] = {}
    for value in values:
        role, uri = "A", value
        head, sep, tail = value.partition("=")
        if sep and _ROLE.match(head):
            role, uri = head.upper(), tail
        if role in hosts:
            raise UsageError(f"role {role} given twice in --host: give each role once")
        hosts[role] = check_uri(uri)
    unknown = [r for r in hosts if r not in roles]
    if unknown:
        raise UsageError(f"this lab has no role {unknown[0]}: its roles are {', '.join(roles)}")
    if not values:
        for role in roles:
            uri = default_uri(role, env)
            if uri:
                hosts[role] = check_uri(uri)
    missing = [r for r in roles if r not in hosts]
    if missing:
        needed = " ".join(f"--host {r}=URI" for r in missing)
        hint = "" if values else f" (or set LAB_URI_{missing[0]}, as `lab hosts env` does)"
        raise UsageError(f"this lab needs roles {', '.join(roles)}: add {needed}{hint}")
    return hosts
