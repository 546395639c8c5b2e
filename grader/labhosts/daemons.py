"""One lab host = virtlogd + libvirtd in a private mount namespace, with its own directories.

Why a mount namespace: libvirt's paths (/etc/libvirt, /var/lib/libvirt, /run/libvirt, ...) are
compiled in. Binding a host's own directories over them gives each host its own config, state,
images, sockets and pid files, while the kernel, QEMU and the network (loopback) stay shared.
The namespace also names "every process of this host" (QEMU, FUSE mounts) for `down`.
"""
from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from grader.errors import EnvironmentProblem
from grader.labhosts import pki, procs
from grader.labhosts.config import DEFAULT_HOME, Settings
from grader.reading.limits import Limits

#: libvirt's compiled-in directories, and the host directory bound over each.
BINDS = (
    ("etc", "/etc/libvirt"),
    ("lib", "/var/lib/libvirt"),
    ("run", "/run/libvirt"),
    ("log", "/var/log/libvirt"),
    ("cache", "/var/cache/libvirt"),
)

START_TIMEOUT = 90.0  # the first start probes QEMU's capabilities (a few seconds under TCG)
#: Our own daemons on loopback answer in milliseconds; a probe that waits longer gives up.
ANSWER_LIMITS = Limits(timeout=30.0, connect_timeout=30.0)

# Runs inside the new namespace: drop mounts inherited from the parent under libvirt's paths (a
# netfs pool another libvirtd mounted would make ours look mounted), bind the host's
# directories, optionally hide /dev/kvm (LAB_ACCEL=tcg: an empty file that QEMU's user cannot
# open, so libvirt stops offering `kvm`), then become libvirtd, pinned to one CPU: where vCPUs
# report different CPUID data (as in some VMs), libvirt otherwise sees "host cpuid changed" and
# re-probes QEMU for seconds at every start. Domains are not affected: libvirt gives QEMU all
# host CPUs.
_NS_SCRIPT = r"""
set -e
H="$1"
readlink /proc/self/ns/mnt > "$H/mntns"
awk '{print $2}' /proc/mounts \
  | grep -E '^(/etc/libvirt|/var/lib/libvirt|/run/libvirt|/var/log/libvirt|/var/cache/libvirt)(/|$)' \
  | sort -r | while read -r m; do umount -l "$m"; done
mount --bind "$H/etc" /etc/libvirt
mount --bind "$H/lib" /var/lib/libvirt
mount --bind "$H/run" /run/libvirt
mount --bind "$H/log" /var/log/libvirt
mount --bind "$H/cache" /var/cache/libvirt
if [ "$2" = tcg ] && [ -e /dev/kvm ]; then mount --bind "$H/no-kvm" /dev/kvm; fi
virtlogd -d -p /run/libvirt/virtlogd.pid
exec taskset -c "$3" libvirtd --listen -p /run/libvirt/libvirtd.pid
"""


@dataclass(frozen=True)
class Host:
    """A lab host as `lab hosts list` shows it."""

    name: str
    uri: str
    port: int
    state: str          # "up" or "down" ("booting" for a VM host not answering yet)
    accel: str | None   # "kvm", "tcg", or None when down
    kind: str = "light"         # "light" (this machine's kernel) or "vm" (its own kernel)
    kernel: str | None = None   # a VM host's guest kernel release


def libvirtd_conf(port: int, host_uuid: str, tls: list[str] = ()) -> str:
    """TLS on loopback, clients with this LAB_HOME's certificate only (`pki`); no TCP.

    The unix sockets stay in the host's own /run/libvirt, a directory only root can enter."""
    return "\n".join([
        "listen_tls = 1",
        "listen_tcp = 0",
        'listen_addr = "127.0.0.1"',
        f'tls_port = "{port}"',
        *tls,
        'auth_unix_ro = "none"',
        'auth_unix_rw = "none"',
        'unix_sock_rw_perms = "0700"',
        f'host_uuid = "{host_uuid}"',  # same UUID = libvirt refuses to migrate "to the same host"
        'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"',
        "",
    ])


def qemu_conf(port: int) -> str:
    """Hosts share one kernel: no cgroups or per-domain namespaces; own migration ports.

    libvirt refuses a loopback `migration_address`/`migration_host` here, so migrations name
    loopback per call (`--migrateuri tcp://127.0.0.1 --listen-address 127.0.0.1`).
    """
    return "\n".join([
        "cgroup_controllers = [ ]",
        "namespaces = [ ]",
        # else the destination of a migration refuses a shared image "already in use"
        "remember_owner = 0",
        f"migration_port_min = {port + 1}",
        f"migration_port_max = {port + 9}",
        'vnc_listen = "127.0.0.1"',
        'spice_listen = "127.0.0.1"',
        "",
    ])


def _paths(settings: Settings, name: str) -> Path:
    return settings.host_dir(name)


def prepare(settings: Settings, name: str) -> None:
    """Create the host's directories and write its config; keep its UUID and definitions."""
    hdir = _paths(settings, name)
    pki.ensure(settings)
    for sub, _ in BINDS:
        (hdir / sub).mkdir(parents=True, exist_ok=True)
    (hdir / "run").chmod(0o700)
    run = hdir / "run"  # /run/libvirt must start empty: stale state files fake active pools
    for entry in run.iterdir():
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    no_kvm = hdir / "no-kvm"
    no_kvm.touch()
    no_kvm.chmod(0)
    uuid_file = hdir / "uuid"
    if not uuid_file.exists():
        uuid_file.write_text(str(uuid.uuid4()) + "\n")
    host_uuid = uuid_file.read_text().strip()
    port = settings.port(name)
    conf = libvirtd_conf(port, host_uuid, pki.libvirtd_tls_conf(settings))
    (hdir / "etc" / "libvirtd.conf").write_text(conf + _extra(settings))
    (hdir / "etc" / "qemu.conf").write_text(qemu_conf(port))
    _seed_capabilities(settings, name)
    for _, target in BINDS:  # mount points must exist in the parent namespace
        Path(target).mkdir(parents=True, exist_ok=True)


def _seed_capabilities(settings: Settings, name: str) -> None:
    """Give a new host a copy of another host's QEMU capability cache.

    Probing QEMU takes seconds per emulator; the cache is the same for every host of this
    machine, and libvirt re-validates it anyway (binary, kernel, CPU, KVM) and re-probes if stale.
    """
    own = settings.host_dir(name) / "cache" / "qemu" / "capabilities"
    if own.is_dir() and any(own.iterdir()):
        return
    pattern = "hosts/*/cache/qemu/capabilities"
    found = [d for home in (settings.home, DEFAULT_HOME) for d in home.glob(pattern)
             if d != own and any(d.glob("*.xml"))]
    if found:
        newest = max(found, key=lambda d: d.stat().st_mtime)
        shutil.copytree(newest, own, dirs_exist_ok=True)


def _extra(settings: Settings) -> str:
    """Site settings for every libvirtd of this LAB_HOME (e.g. log filters), if any."""
    extra = settings.home / "libvirtd-extra.conf"
    return extra.read_text() if extra.exists() else ""


def pid(settings: Settings, name: str) -> int | None:
    return procs.read_pid(_paths(settings, name) / "libvirtd.pid")


def is_up(settings: Settings, name: str) -> bool:
    """libvirtd of this host runs, in the namespace recorded for it, and answers on its port."""
    hdir = _paths(settings, name)
    p = pid(settings, name)
    ns = _read(hdir / "mntns")
    return procs.alive(p) and ns is not None and procs.mount_ns(p) == ns


def start(settings: Settings, name: str) -> None:
    """Start the host and wait until libvirt answers on its URI; on failure leave nothing."""
    hdir = _paths(settings, name)
    prepare(settings, name)
    log = hdir / "daemon.log"
    log.write_text("")
    (hdir / "mntns").unlink(missing_ok=True)
    argv = ["unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", _NS_SCRIPT, "sh", str(hdir), settings.accel,
            str(min(os.sched_getaffinity(0)))]
    procs.spawn_detached(argv, log, hdir / "libvirtd.pid")
    try:
        _wait_ready(settings, name, log)
    except BaseException:
        stop(settings, name)
        raise


def _wait_ready(settings: Settings, name: str, log: Path) -> None:
    hdir = _paths(settings, name)
    port = settings.port(name)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        p = pid(settings, name)
        if p is not None and not procs.alive(p):
            why = procs.tail(log) or procs.tail(hdir / "log" / "libvirtd.log") or "no message"
            raise EnvironmentProblem(
                f"libvirtd of lab host {name} died at start ({why}); see {log}")
        if p is not None and procs.port_open(port) and _answers(settings.uri(name)):
            return
        time.sleep(0.1)
    raise EnvironmentProblem(
        f"libvirtd of lab host {name} did not answer on port {port} within "
        f"{START_TIMEOUT:.0f} s; see {hdir / 'log' / 'libvirtd.log'}")


def _answers(uri: str) -> bool:
    from grader.reading import connection

    try:
        conn = connection.open_bounded(uri, ANSWER_LIMITS, write=True)
        try:
            conn.getCapabilities()  # waits for the QEMU driver to finish its probing
        finally:
            connection.close(conn)
        return True
    except Exception:
        return False


def stop(settings: Settings, name: str) -> None:
    """Stop every process of the host (by namespace and pid files) and clear its run state."""
    hdir = _paths(settings, name)
    ns = _read(hdir / "mntns")
    # Repeat: a dying libvirtd or FUSE client may still fork (mount helpers) while we stop it.
    for _ in range(5):
        pids = set(procs.pids_in_ns(ns)) if ns else set()
        for pid_file in (hdir / "libvirtd.pid", hdir / "run" / "virtlogd.pid"):
            p = procs.read_pid(pid_file)
            if procs.alive(p) and ns and procs.mount_ns(p) == ns:
                pids.add(p)
        if not pids:
            break
        procs.terminate(pids)
    else:
        raise EnvironmentProblem(
            f"processes {sorted(pids)} of lab host {name} keep running; stop them by hand")
    (hdir / "mntns").unlink(missing_ok=True)
    (hdir / "libvirtd.pid").unlink(missing_ok=True)
    if (hdir / "run").exists():
        for entry in (hdir / "run").iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def known(settings: Settings) -> list[str]:
    """Names of the hosts this LAB_HOME has ever started (their directories), sorted."""
    if not settings.hosts_dir.is_dir():
        return []
    return sorted(p.name for p in settings.hosts_dir.iterdir() if (p / "uuid").exists())


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
