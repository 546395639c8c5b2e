"""Which libvirt URI is each of a lab's roles, and which URIs the grader opens at all.

One rule for every front end (grade, lab start/finish, lab doctor, "check my work" cells): role
R is $LAB_URI_<R> (what `lab hosts env` exports); role A falls back to $LIBVIRT_DEFAULT_URI
(where virsh works), then qemu:///system. Pure: the environment is passed in.

URIs are data. Rosters are often filled from what students type, and a libvirt URI can run a
program on this machine (the `ext` transport, ssh's `command=`), one on the host (`netcat=`) or
turn host-key and certificate checks off (`no_verify=`, `known_hosts_verify=`). So `check_uri`
takes only what the grader needs, parsed the way libvirt parses it (viruri.c: parameters split
at `&`, else `;`, names and values %-unescaped, names in any case), and anything else is a
one-line error:

    driver      qemu (/system, /session); test (/default or a host file: simulated classes)
    transport   none (this machine), unix, ssh, libssh, tcp, tls; never ext
    parameters  unix: socket; ssh: keyfile, known_hosts, socket, no_tty; libssh: keyfile,
                known_hosts, socket; tls: pkipath; tcp and this machine: none
    never       command, netcat, no_verify, known_hosts_verify (not even with --allow-uri-param)

An instructor who needs one more parameter (say `mode` or `tls_priority`) names it on the command
line, `--allow-uri-param NAME`; the four above can never be allowed. User, host and port are
checked too: a host name cannot start with `-` (it would reach ssh as an option).
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping
from urllib.parse import unquote

from grader.errors import UsageError

_ROLE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
LOCAL = "qemu:///system"

#: driver[+transport]://[user@][host][:port]/path[?params], printable ASCII, no fragment.
_URI = re.compile(r"(?P<driver>[a-z][a-z0-9]*)(?:\+(?P<transport>[a-z0-9]+))?://"
                  r"(?P<authority>[^/?#]*)(?P<path>/[^?#]*)(?:\?(?P<query>[^#]*))?")
_AUTHORITY = re.compile(r"(?:(?P<user>[A-Za-z0-9_][A-Za-z0-9._-]{0,63})@)?"
                        r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])?"
                        r"(?::(?P<port>[0-9]{1,5}))?")
_PARAM_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: A path a parameter may name: absolute, nothing a shell or ssh's option parser reads specially.
_PATH = re.compile(r"/[A-Za-z0-9._/+@,=:~-]{0,1000}")
EXAMPLE = "e.g. qemu:///system, qemu+ssh://root@10.0.0.12/system or qemu+tls://host/system"

#: The transports the grader uses and the parameters each needs (docs/instructor.md).
TRANSPORTS: dict[str, tuple[str, ...]] = {
    "": (),                                        # this machine's libvirtd
    "unix": ("socket",),                           # another socket, e.g. the read-only one
    "ssh": ("keyfile", "known_hosts", "socket", "no_tty"),   # known_hosts: the grader's ssh wrapper
    "libssh": ("keyfile", "known_hosts", "socket"),
    "tcp": (),                                     # the lab hosts on loopback
    "tls": ("pkipath",),                           # the client certificate's folder
}
#: Parameters no URI may carry, with why (never allowed, not even by --allow-uri-param).
NEVER = {
    "command": "runs a program on this machine",
    "netcat": "runs a program of its choosing on the host",
    "no_verify": "turns the host-key or certificate check off",
    "known_hosts_verify": "can only weaken the host-key check (auto trusts new keys, ignore all)",
}
#: Paths for each driver: qemu's daemons; the test driver's built-in host or a host file.
DRIVERS = {"qemu": ("/system", "/session"), "test": None}
_PATH_PARAMS = ("socket", "keyfile", "known_hosts", "pkipath")
ALLOW_URI_PARAM_HELP = ("Also accept this libvirt URI parameter in --host and roster URIs (repeatable); "
                        "command, netcat, no_verify and known_hosts_verify are never accepted.")


def params(query: str | None) -> list[tuple[str, str]]:
    """A URI's parameters as libvirt reads them (virURIParseParams): split at the next `&`, or
    when none is left at the next `;`; `name` alone is an empty value; `=value` is ignored.
    Names are lowercased: the remote driver matches them in any case (STRCASEEQ)."""
    found, rest = [], query or ""
    while rest:
        end = rest.find("&")
        if end < 0:
            end = rest.find(";")
        if end < 0:
            end = len(rest)
        part, rest = rest[:end], rest[end + 1:]
        name, _, value = part.partition("=")
        if part and not part.startswith("="):
            found.append((unquote(name, errors="replace").lower(), unquote(value, errors="replace")))
    return found


def allowed_params(names: Iterable[str]) -> frozenset[str]:
    """The parameters an instructor allows with --allow-uri-param; the NEVER ones are refused."""
    allowed = set()
    for name in (n.lower() for n in names):
        if name in NEVER:
            raise UsageError(f"--allow-uri-param {name}: {name}= {NEVER[name]}, so no URI may carry it")
        if not _PARAM_NAME.fullmatch(name):
            raise UsageError(f"--allow-uri-param {name!r}: give a libvirt URI parameter name, e.g. "
                             "--allow-uri-param mode")
        allowed.add(name)
    return frozenset(allowed)


def uri_problem(uri: object, allow: Iterable[str] = ()) -> str | None:
    """Why the grader will not open `uri` (one line), or None. `allow`: parameters allowed on
    top of the transport's own (already checked by allowed_params)."""
    if not isinstance(uri, str) or not re.fullmatch(r"[\x21-\x7e]{1,2000}", uri):
        return f"malformed libvirt URI {uri!r}: {EXAMPLE}"
    match = _URI.fullmatch(uri)
    authority = _AUTHORITY.fullmatch(match["authority"]) if match else None
    if not match or not authority:
        return f"malformed libvirt URI {uri!r}: {EXAMPLE}"
    driver, transport, host = match["driver"], match["transport"] or "", authority["host"]
    if driver not in DRIVERS:
        return f"libvirt URI {uri!r}: the grader reads qemu hosts (and test:/// ones), not {driver}: {EXAMPLE}"
    if transport == "" and host:
        transport = "tls"                          # libvirt's default for a host without transport
    if transport == "ext":
        return f"libvirt URI {uri!r}: the ext transport runs a program on this machine, so it is never allowed: {EXAMPLE}"
    if transport not in TRANSPORTS:
        return (f"libvirt URI {uri!r}: transport {transport!r} is not one the grader uses "
                f"({', '.join(t for t in TRANSPORTS if t)}, or none on this machine): {EXAMPLE}")
    port_ok = not authority["port"] or 0 < int(authority["port"]) < 65536
    if not port_ok or host and transport == "unix":
        return f"malformed libvirt URI {uri!r}: {EXAMPLE}"
    paths = DRIVERS[driver]
    if paths is not None and match["path"] not in paths:
        return f"libvirt URI {uri!r}: a {driver} URI ends in {' or '.join(paths)}: {EXAMPLE}"
    extra = set(allow)
    for name, value in params(match["query"]):
        if name in NEVER:
            return (f"libvirt URI {uri!r}: {name}= {NEVER[name]}, so it is never allowed: remove it "
                    "(docs/instructor.md says what the grader needs)")
        if name not in TRANSPORTS[transport] and name not in extra:
            needs = ", ".join(f"{p}=" for p in TRANSPORTS[transport]) or "no parameters"
            return (f"libvirt URI {uri!r}: {name}= is not a parameter the grader needs over "
                    f"{transport or 'this machine'} ({needs}): remove it, or allow it for this run "
                    f"with --allow-uri-param {name}")
        if name in _PATH_PARAMS and name not in extra and not _PATH.fullmatch(value):
            return (f"libvirt URI {uri!r}: {name}= must be an absolute path of letters, digits and "
                    f"/ . _ - + @ , = : ~, not {value!r}")
        if name == "no_tty" and value not in ("0", "1"):
            return f"libvirt URI {uri!r}: no_tty= is 0 or 1, not {value!r}"
    return None


def check_uri(uri: str, allow: Iterable[str] = ()) -> str:
    """`uri` when the grader may open it (see the module's docstring), else a UsageError."""
    problem = uri_problem(uri, allow)
    if problem:
        raise UsageError(problem)
    return uri


def runs_program(uri: str) -> str | None:
    """What no URI opened by the grader may do, whatever was allowed: run a program (ext, command=,
    netcat=) or drop host checks. The last guard, in grader.reading.connection."""
    match = _URI.fullmatch(uri) if isinstance(uri, str) else None
    if match is None:
        return None                                # libvirt itself refuses what it cannot parse
    if match["transport"] == "ext":
        return "the ext transport runs a program on this machine"
    for name, _ in params(match["query"]):
        if name in NEVER:
            return f"{name}= {NEVER[name]}"
    return None


def default_uri(role: str, env: Mapping[str, str]) -> str | None:
    """The documented rule for a role given no --host (None: nothing names it)."""
    uri = env.get(f"LAB_URI_{role}")
    if not uri and role == "A":
        uri = env.get("LIBVIRT_DEFAULT_URI") or LOCAL
    return uri or None


def parse_hosts(values: tuple[str, ...] | list[str], roles: tuple[str, ...],
                env: Mapping[str, str], allow: Iterable[str] = ()) -> dict[str, str]:
    """Map each of the lab's roles to a URI. A bare URI means role A; roles not given on the
    command line come from the environment (default_uri). Every URI passes check_uri."""
    allow = frozenset(allow)
    hosts: dict[str, str] = {}
    for value in values:
        role, uri = "A", value
        head, sep, tail = value.partition("=")
        if sep and _ROLE.match(head):
            role, uri = head.upper(), tail
        if role in hosts:
            raise UsageError(f"role {role} given twice in --host: give each role once")
        hosts[role] = check_uri(uri, allow)
    unknown = [r for r in hosts if r not in roles]
    if unknown:
        raise UsageError(f"this lab has no role {unknown[0]}: its roles are {', '.join(roles)}")
    if not values:
        for role in roles:
            uri = default_uri(role, env)
            if uri:
                hosts[role] = check_uri(uri, allow)
    missing = [r for r in roles if r not in hosts]
    if missing:
        needed = " ".join(f"--host {r}=URI" for r in missing)
        hint = "" if values else f" (or set LAB_URI_{missing[0]}, as `lab hosts env` does)"
        raise UsageError(f"this lab needs roles {', '.join(roles)}: add {needed}{hint}")
    return hosts
