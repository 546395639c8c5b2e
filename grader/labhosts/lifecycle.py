"""`up`, `down`, `status`, `environment`: lab hosts and the shared storage, as one unit.

`up` is idempotent and all-or-nothing: it checks everything it can before starting anything,
and if something still fails it stops what this call started (never what was already up).
"""
from __future__ import annotations

import fcntl
import shutil
from contextlib import contextmanager
from dataclasses import dataclass

from grader.errors import EnvironmentProblem, UsageError
from grader.labhosts import daemons, gluster, iscsi, kvm, preflight, sharemark, vm
from grader.labhosts.config import DEFAULT_NAMES, Settings, validate_name
from grader.labhosts.daemons import Host
from grader.reading import connection


@dataclass(frozen=True)
class Service:
    """A shared storage service as `lab hosts list` shows it."""

    name: str       # "glusterfs" or "iscsi"
    where: str      # how a pool names it
    state: str      # "up" or "down"


@contextmanager
def _locked(settings: Settings):
    """One `up`/`down` at a time per LAB_HOME (other developers and test runs share it)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.lock_file, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _names(names) -> list[str]:
    seen = []
    for name in names:
        if validate_name(name) not in seen:
            seen.append(name)
    return seen


def _check_ports(settings: Settings, names: list[str], to_start: list[str]) -> None:
    owners = {settings.iscsi_port: "the iSCSI target"}
    for name in sorted(set(daemons.known(settings)) | set(names)):
        port = settings.port(name)
        if port in owners:
            raise UsageError(
                f"lab host {name} would use port {port} like {owners[port]}: "
                f"set LAB_PORT_{name.upper()} to another port")
        owners[port] = f"lab host {name}"
    for name in to_start:
        preflight.require_free(
            settings.port(name), f"libvirtd of lab host {name}",
            f"stop that program, or choose another port with LAB_PORT_{name.upper()}=PORT "
            "or LAB_PORT_BASE=PORT")


def _light_up(settings: Settings) -> list[str]:
    return [n for n in daemons.known(settings) if daemons.is_up(settings, n)]


def _vm_up(settings: Settings) -> list[str]:
    return [n for n in vm.known(settings) if vm.is_up(settings, n)]


def _one_kind(settings: Settings, want_vm: bool) -> None:
    """One kind of lab host per LAB_HOME at a time: their URIs and ports are the same."""
    other = _light_up(settings) if want_vm else _vm_up(settings)
    if other:
        kinds = ("light", "VM") if want_vm else ("VM", "light")
        raise UsageError(
            f"{kinds[0]} lab hosts ({', '.join(other)}) are up in {settings.home}: run "
            f"`lab hosts down` first, then `lab hosts up{' --vm' if want_vm else ''}` "
            f"(one kind of host per LAB_HOME; another LAB_HOME can run {kinds[1]} hosts)")


def up(names=DEFAULT_NAMES, settings: Settings | None = None,
       require_kvm: bool = False, as_vm: bool = False, say=print) -> list:
    """Start the named hosts (default a, b) and the shared services; return the hosts.

    `as_vm`: VM hosts (their own kernel, see `vm`) instead of light ones.
    """
    settings = settings or Settings.from_env()
    names = _names(names or DEFAULT_NAMES)
    preflight.require_root()
    if as_vm:
        return _up_vm(settings, names, require_kvm, say)
    preflight.require_programs()
    preflight.require_loopback_hostname()
    if require_kvm:
        problem = "LAB_ACCEL=tcg hides it" if settings.accel == "tcg" else kvm.device_problem()
        if problem:
            raise EnvironmentProblem(f"KVM is required but not usable: {problem}")
    with _locked(settings):
        _one_kind(settings, want_vm=False)
        to_start = [n for n in names if not daemons.is_up(settings, n)]
        _check_ports(settings, names, to_start)
        if not iscsi.is_up(settings):
            preflight.require_free(settings.iscsi_port, "the iSCSI target of this LAB_HOME",
                                   "stop that program or choose another LAB_PORT_BASE")
        undo = []
        try:
            if gluster.ensure(settings):
                undo.append(lambda: gluster.remove(settings))
            if iscsi.ensure(settings):
                undo.append(lambda: iscsi.stop(settings))
            for name in to_start:
                daemons.start(settings, name)
                undo.append(lambda name=name: daemons.stop(settings, name))
            hosts = status(settings, names)
            if require_kvm and any(h.accel != "kvm" for h in hosts):
                raise EnvironmentProblem(
                    "KVM is required but the lab hosts do not offer it (libvirt's capabilities "
                    "have no `kvm` domain type): check /dev/kvm and the kvm group")
            sharemark.ensure(settings, environment(settings))   # the export may be new
        except BaseException:
            for action in reversed(undo):
                try:
                    action()
                except Exception:
                    pass  # the first error is the one to report
            raise
    return hosts


def _up_vm(settings: Settings, names: list[str], require_kvm: bool, say) -> list:
    preflight.require_programs()
    preflight.require_vm_programs()
    with _locked(settings):
        _one_kind(settings, want_vm=True)
        _check_ports(settings, names, [n for n in names if not vm.is_up(settings, n)])
        for name in names:
            if not vm.is_up(settings, name):
                for port in (settings.port(name), vm.ssh_port(settings, name)):
                    preflight.require_free(
                        port, f"VM host {name}",
                        f"stop that program, or choose another port with "
                        f"LAB_PORT_{name.upper()}=PORT or LAB_PORT_BASE=PORT")
        hosts = vm.up(settings, names, say)
        storage = vm.storage_host(settings) or names[0]        # a fresh root has a new export
        sharemark.ensure(settings, environment(settings), server_uri=settings.uri(storage))
        if require_kvm and any(h.accel != "kvm" for h in hosts):
            raise EnvironmentProblem(
                "KVM is required but a Linux guest does not boot under KVM here: the VM hosts "
                "run under TCG (run `lab hosts down`, then `lab hosts up --vm` without "
                "--require-kvm)")
    return hosts


def down(names=None, settings: Settings | None = None, purge: bool = False, say=print) -> None:
    """Stop the named hosts, or all of them and the shared services when no names are given.

    The shared services also stop once no host of this LAB_HOME is left up. VM hosts are
    suspended (`vmstate`: the next `up --vm` resumes them) unless `purge`, which also deletes
    the stopped hosts' directories (definitions, images, UUID, saved states).
    """
    settings = settings or Settings.from_env()
    preflight.require_root()
    vms = vm.known(settings)
    known = sorted(set(daemons.known(settings)) | set(vms))
    if names:
        names = _names(names)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(
                f"no lab host named {unknown[0]} in {settings.home} (known: "
                f"{', '.join(known) or 'none'}): see `lab hosts list`")
    else:
        names = known
    with _locked(settings):
        vm.down(settings, [n for n in names if n in vms], purge=purge, say=say)
        for name in [n for n in names if n in daemons.known(settings)]:
            daemons.stop(settings, name)
            if purge:
                shutil.rmtree(settings.host_dir(name), ignore_errors=True)
        if not any(daemons.is_up(settings, n) for n in daemons.known(settings)):
            iscsi.stop(settings)
            gluster.remove(settings)
            sharemark.forget(settings)
            if purge:
                shutil.rmtree(settings.iscsi_dir, ignore_errors=True)


def status(settings: Settings | None = None, names=None) -> list:
    """Every known host of this LAB_HOME (plus `names`), one row per name: the kind that is up
    (with KVM/TCG), else the VM host when it is one (down or saved), else the light host.

    VM hosts first, then the light ones."""
    settings = settings or Settings.from_env()
    names = _names(names) if names else []
    vms = vm.known(settings)
    light = sorted(set(daemons.known(settings)) | set(names))
    light_up = {n for n in light if daemons.is_up(settings, n)}
    result = [h for h in (vm.status(settings) if vms else [])
              if h.state in ("up", "booting") or h.name not in light_up]
    shown = {h.name for h in result}
    for name in light:
        if name in shown and name not in light_up:
            continue
        state, accel = "down", None
        if name in light_up:
            state = "up"
            try:
                conn = connection.open_bounded(settings.uri(name), daemons.ANSWER_LIMITS, write=True)
                try:
                    accel = kvm.accel_name(kvm.domain_type(conn))
                finally:
                    connection.close(conn)
            except Exception:
                state = "not answering"
        result.append(Host(name, settings.uri(name), settings.port(name), state, accel))
    return result


def services(settings: Settings | None = None) -> list[Service]:
    settings = settings or Settings.from_env()
    if _vm_up(settings):
        storage = vm.storage_host(settings)
        where = f"{storage} ({vm.link_address(storage)})"
        return [Service("nfs", f"{where}:{vm.SHARE_PATH}", "up"),
                Service("iscsi", f"{where} {vm.ISCSI_TARGET}", "up")]
    return [
        Service("glusterfs", f"{settings.share_host}:/{settings.share_volume}",
                "up" if gluster.is_up(settings) else "down"),
        Service("iscsi", f"127.0.0.1:{settings.iscsi_port} {settings.iscsi_target}",
                "up" if iscsi.is_up(settings) else "down"),
    ]


def environment(settings: Settings | None = None) -> dict[str, str]:
    """What `lab hosts env` exports: the URIs of the hosts that are up and the shared storage."""
    settings = settings or Settings.from_env()
    vm_names = _vm_up(settings)
    if vm_names:
        return {**vm.environment(settings, vm_names), **sharemark.environment(settings)}
    up_names = _light_up(settings)
    if not up_names:
        raise EnvironmentProblem(
            f"no lab host is up in {settings.home}: run `lab hosts up` first")
    env = {f"LAB_URI_{n.upper()}": settings.uri(n) for n in up_names}
    env["LIBVIRT_DEFAULT_URI"] = settings.uri(up_names[0])
    env.update({
        "LAB_SHARE_HOST": settings.share_host,
        "LAB_SHARE_PATH": f"/{settings.share_volume}",
        "LAB_SHARE_FORMAT": "glusterfs",
        "LAB_ISCSI_HOST": settings.iscsi_portal,
        "LAB_ISCSI_TARGET": settings.iscsi_target,
        "LAB_ISCSI_INITIATOR": settings.iscsi_initiator,
        # Light hosts share one machine: the migration stream must stay on loopback.
        "LAB_MIGRATE_FLAGS": "--migrateuri tcp://127.0.0.1 --listen-address 127.0.0.1",
        **sharemark.environment(settings),
    })
    return env
