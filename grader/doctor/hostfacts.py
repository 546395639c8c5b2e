"""What `lab doctor` reads about a classroom host, and only reads: plain facts for grader.doctor.judge.

Everything comes through a read-only libvirt connection (grader.reading.connection): versions,
host name and UUID, KVM or TCG, the storage pool types its libvirt supports (the storage pool
capabilities), and its pools with their sources. Two things libvirt cannot tell read-only are
probed beside it: whether this machine reaches the course's export and iSCSI target (a TCP
connect to the service's port), and the host's clock, which only a shell on the host can read
(`date` over the grader's ssh wrapper, for qemu+ssh hosts; hosts on this machine share its clock).
"""
from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from grader.core.uris import params as uri_params
from grader.core.xmlmodel import parse
from grader.errors import LabError, one_line
from grader.reading import connection
from grader.reading.connection import Limits

LIMITS = Limits(timeout=20.0, connect_timeout=5.0)
#: The TCP port each shared service listens on, when its address names none.
SERVICE_PORTS = {"nfs": 2049, "glusterfs": 24007, "iscsi": 3260}
LOCAL_HOSTS = ("", "127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Pool:
    name: str
    type: str
    active: bool
    host: str = ""
    path: str = ""        # netfs source dir
    format: str = ""      # netfs source format
    device: str = ""      # iscsi target IQN


@dataclass(frozen=True)
class Clock:
    offset: float | None          # the host's clock minus this machine's, in seconds
    how: str                      # how it was read, or why it could not be


@dataclass(frozen=True)
class HostFacts:
    role: str
    uri: str
    error: str | None = None      # could not be read at all
    hostname: str = ""
    libvirt: int = 0              # 9000000 for 9.0.0
    qemu: int = 0
    uuid: str = ""
    domain_types: tuple[str, ...] = ()
    supported: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()
    pools: tuple[Pool, ...] = ()
    clock: Clock = field(default_factory=lambda: Clock(None, "not read"))


@dataclass(frozen=True)
class Service:
    what: str                     # "share" or "iscsi"
    where: str                    # as the course names it: glusterfs://vm/labshare, 127.0.0.1 iqn...
    host: str
    port: int
    reachable: bool
    error: str = ""


def read_host(role: str, uri: str, limits: Limits = LIMITS) -> HostFacts:
    """One host's facts; a host that cannot be reached gives facts with `error` set."""
    try:
        conn = connection.open_bounded(uri, limits)
    except LabError as err:
        return HostFacts(role, uri, error=str(err))
    try:
        caps = parse(conn.getCapabilities())
        pool_caps = parse(conn.getStoragePoolCapabilities(0))
        return HostFacts(
            role, uri, hostname=conn.getHostname(), libvirt=conn.getLibVersion(),
            qemu=conn.getVersion(), uuid=caps.findtext("host/uuid") or "",
            domain_types=tuple(sorted(set(caps.xpath("guest/arch/domain/@type")))),
            supported=tuple(pool_caps.xpath("pool[@supported='yes']/@type")),
            unsupported=tuple(pool_caps.xpath("pool[@supported='no']/@type")),
            pools=tuple(_pool(p) for p in conn.listAllStoragePools(0)),
            clock=read_clock(uri, limits))
    except Exception as err:  # noqa: BLE001 - libvirt failing mid-way is this host's finding
        return HostFacts(role, uri, error=f"{uri} failed while being read: {one_line(err)}")
    finally:
        connection.close(conn)


def _pool(pool) -> Pool:
    root = parse(pool.XMLDesc(0))
    return Pool(pool.name(), root.get("type", ""), bool(pool.isActive()),
                host=root.xpath("string(source/host/@name)"), path=root.xpath("string(source/dir/@path)"),
                format=root.xpath("string(source/format/@type)"),
                device=root.xpath("string(source/device/@path)"))


def read_clock(uri: str, limits: Limits = LIMITS) -> Clock:
    """The host's clock against this machine's, where it can be read without changing anything."""
    parts = urlsplit(uri)
    transport = parts.scheme.partition("+")[2]
    if (parts.hostname or "") in LOCAL_HOSTS and transport != "ssh":
        return Clock(0.0, "this machine's clock")
    if transport != "ssh":
        return Clock(None, f"libvirt reports no clock and {transport or 'this'} transport runs no command")
    params = dict(uri_params(parts.query))
    argv = [str(connection.ssh_wrapper(limits, known_hosts=params.get("known_hosts")))]
    if parts.port:
        argv += ["-p", str(parts.port)]
    if params.get("keyfile"):
        argv += ["-i", params["keyfile"]]
    argv += [f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname,
             "date", "-u", "+%s.%N"]
    before = time.time()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=limits.timeout,
                              stdin=subprocess.DEVNULL)
        after = time.time()
        there = float(done.stdout.strip())
    except (subprocess.TimeoutExpired, ValueError, OSError):
        return Clock(None, "`date` over ssh gave no time (an account limited to libvirt's socket "
                           "runs nothing else)")
    return Clock(there - (before + after) / 2, "date over ssh")


def probe_service(what: str, where: str, host: str, port: int, timeout: float = 3.0) -> Service:
    """Whether this machine opens a TCP connection to the service (closed at once)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return Service(what, where, host, port, True)
    except OSError as err:
        return Service(what, where, host, port, False, one_line(err))


def course_services(env) -> list[Service]:
    """The course's export and iSCSI target, as `lab hosts env` (or the instructor) names them."""
    found = []
    if env.get("LAB_SHARE_HOST") and env.get("LAB_SHARE_PATH"):
        fmt = env.get("LAB_SHARE_FORMAT", "nfs")
        where = f"{fmt}://{env['LAB_SHARE_HOST']}{env['LAB_SHARE_PATH']}"
        found.append(probe_service("share", where, env["LAB_SHARE_HOST"], SERVICE_PORTS.get(fmt, 2049)))
    if env.get("LAB_ISCSI_HOST") and env.get("LAB_ISCSI_TARGET"):
        host, _, port = env["LAB_ISCSI_HOST"].partition(":")
        where = f"{env['LAB_ISCSI_HOST']} {env['LAB_ISCSI_TARGET']}"
        found.append(probe_service("iscsi", where, host, int(port or SERVICE_PORTS["iscsi"])))
    return found
