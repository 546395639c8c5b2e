"""`lab doctor`'s judgement: from what was read of the hosts (grader.doctor.hostfacts) to findings.

Pure: one finding per fact that matters for the labs, each with what to fix, and the labs it
stops. What a lab needs is its own lab.toml's [needs] (grader.core.labdef.Needs): a lab cannot
run on a host that cannot be reached, whose libvirt lacks a pool type the lab defines, without
the course's services it uses, or (two roles) without a second host with its own identity. TCG
instead of KVM, an old libvirt or a clock that drifts only make things slower or odder: warnings.
"""
from __future__ import annotations

from dataclasses import dataclass

from grader.core.labdef import Lab
from grader.core.text import one_line
from grader.doctor.hostfacts import HostFacts, Service

#: What to install on a Debian/Ubuntu host for each pool type (RHEL: the same driver names).
PACKAGES = {
    "dir": "libvirt-daemon-driver-storage (part of libvirt-daemon-system)",
    "disk": "parted and libvirt-daemon-driver-storage-disk",
    "netfs": "nfs-common (NFS) or glusterfs-client (GlusterFS), with libvirt's storage driver",
    "iscsi": "open-iscsi and libvirt-daemon-driver-storage-iscsi",
    "iscsi-direct": "libvirt-daemon-driver-storage-iscsi-direct and qemu-block-extra (libiscsi)",
    "logical": "lvm2 and libvirt-daemon-driver-storage-logical",
    "zfs": "zfsutils-linux and libvirt-daemon-driver-storage-zfs",
}
CLOCK_SKEW = 5.0     # seconds between A and B that deserve a warning
EXTERNAL_REVERT = 9_007_000


@dataclass(frozen=True)
class Finding:
    role: str               # "A", "B" or "-" (the course's services, the pair)
    level: str              # "ok", "info", "warn" or "FAIL"
    text: str
    fix: str = ""
    stops: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for the terminal. Host text in it (a host name, pool names, libvirt's
        messages) is data: control characters, newlines included, show as escapes."""
        fix = f" — {one_line(self.fix)}" if self.fix else ""
        stops = f" [{', '.join(self.stops)} cannot run]" if self.stops else ""
        return f"{self.role:2} {self.level:5} {one_line(self.text)}{fix}{stops}"


def _version(number: int) -> str:
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


def judge(hosts: dict[str, HostFacts], services: list[Service], labs: list[Lab]) -> list[Finding]:
    """Every finding, host by host, then the course's services, then the pair A-B."""
    findings: list[Finding] = []
    for role, facts in hosts.items():
        findings += _host(facts, [lab for lab in labs if role in lab.roles])
    findings += _services(services, hosts, labs)
    pairs = [lab.id for lab in labs if "B" in lab.roles]
    if pairs:
        findings += _pair(hosts, pairs)
    return findings


def _host(facts: HostFacts, labs: list[Lab]) -> list[Finding]:
    role = facts.role
    if facts.error:
        return [Finding(role, "FAIL", f"unreachable: {facts.error}",
                        "check the URI, that libvirtd runs there and that the grader's ssh key or "
                        "tcp access is set up (docs/instructor.md)", tuple(lab.id for lab in labs))]
    found = [Finding(role, "ok", f"reachable: {facts.uri} (host {facts.hostname}, libvirt "
                                 f"{_version(facts.libvirt)}, QEMU {_version(facts.qemu)})")]
    if "kvm" in facts.domain_types:
        found.append(Finding(role, "ok", "KVM: domains run with hardware virtualisation"))
    else:
        found.append(Finding(role, "warn", "TCG only: no usable KVM, domains are emulated (slower; the "
                                           "labs' small domains still run)",
                             "enable virtualisation in the firmware and give QEMU /dev/kvm (group kvm)"))
    found.append(Finding(role, "ok", f"pool types supported: {', '.join(facts.supported) or 'none'}"
                                     + (f" (not: {', '.join(facts.unsupported)})" if facts.unsupported else "")))
    for lab in labs:
        for alternatives in lab.needs.pools.get(role, ()):
            if not set(alternatives) & set(facts.supported):
                names = " or ".join(alternatives)
                fix = "; or ".join(PACKAGES.get(t, t) for t in alternatives)
                found.append(Finding(role, "FAIL", f"{lab.id} defines a {names} pool, which this libvirt "
                                                   "does not support",
                                     f"install {fix}, then restart libvirtd (or virtstoraged)", (lab.id,)))
    if facts.libvirt < EXTERNAL_REVERT:
        found.append(Finding(role, "info", f"libvirt {_version(facts.libvirt)} cannot revert to external "
                                           "snapshots (9.7 can): revert to internal ones there (virt-manager 5 "
                                           "then takes internal ones too)"))
    return found


def _services(services: list[Service], hosts: dict[str, HostFacts], labs: list[Lab]) -> list[Finding]:
    needs = {what: [lab.id for lab in labs if what in lab.needs.services] for what in ("share", "iscsi")}
    own_pools = {pool: lab.id for lab in labs for pool in lab.needs.service_pools}
    found = []
    named = {s.what for s in services}
    for what, variables in (("share", "LAB_SHARE_HOST, LAB_SHARE_PATH, LAB_SHARE_FORMAT"),
                            ("iscsi", "LAB_ISCSI_HOST, LAB_ISCSI_TARGET")):
        if needs[what] and what not in named:
            found.append(Finding("-", "FAIL", f"the course's {'export' if what == 'share' else 'iSCSI target'} "
                                              "is not named", f"set {variables} (docs/instructor.md)",
                                 tuple(needs[what])))
    for service in services:
        if not needs[service.what]:
            continue  # no lab asked about needs it
        label = "export" if service.what == "share" else "iSCSI target"
        if service.reachable:
            found.append(Finding("-", "ok", f"the course's {label} {service.where} answers on "
                                            f"{service.host}:{service.port} from this machine"))
        else:
            found.append(Finding("-", "FAIL", f"the course's {label} {service.where} does not answer on "
                                              f"{service.host}:{service.port} from this machine: {service.error}",
                                 "start the server and open that port to the students' hosts "
                                 "(docs/instructor.md)", tuple(needs[service.what])))
        found += _conflicts(service, hosts, own_pools, tuple(needs[service.what]))
    return found


def _conflicts(service: Service, hosts: dict[str, HostFacts], own_pools: dict[str, str],
               stops: tuple[str, ...]) -> list[Finding]:
    """libvirt allows one pool per storage source: a host's own pool on the course's source
    (under another name) makes the lab's pool fail to start."""
    found = []
    for facts in hosts.values():
        for pool in facts.pools:
            same = ((service.what == "share" and pool.host == service.host and pool.path
                     and service.where.endswith(pool.path))
                    or (service.what == "iscsi" and pool.device and service.where.endswith(pool.device)))
            if same and pool.name in own_pools:
                state = "active" if pool.active else "defined but not active"
                found.append(Finding(facts.role, "ok" if pool.active else "info",
                                     f"pool {pool.name} on the course's source is {state}"))
            elif same:
                found.append(Finding(facts.role, "FAIL",
                                     f"pool {pool.name} already uses the course's source {service.where}: "
                                     "libvirt allows one pool per source",
                                     f"virsh pool-destroy {pool.name}; virsh pool-undefine {pool.name}",
                                     stops))
    return found


def _pair(hosts: dict[str, HostFacts], labs: list[str]) -> list[Finding]:
    a, b = hosts.get("A"), hosts.get("B")
    if b is None:
        return [Finding("-", "info", f"{', '.join(labs)} needs host B too: add --host B=URI to check it")]
    if a is None or a.error or b.error:
        return []
    found = []
    if a.uuid and a.uuid == b.uuid:
        found.append(Finding("-", "FAIL", f"A and B have the same host UUID {a.uuid}: libvirt refuses to "
                                          "migrate to the same host",
                             "give each host its own host_uuid in libvirtd.conf (cloned machines share "
                             "one)", tuple(labs)))
    if a.clock.offset is None or b.clock.offset is None:
        why = a.clock.how if a.clock.offset is None else b.clock.how
        found.append(Finding("-", "info", f"clock of A against B not measured: {why}",
                             "compare `date -u` on both, or run chrony on both"))
    else:
        skew = abs(a.clock.offset - b.clock.offset)
        level = "warn" if skew > CLOCK_SKEW else "ok"
        fix = "run chrony (or systemd-timesyncd) on both hosts" if level == "warn" else ""
        found.append(Finding("-", level, f"clocks of A and B differ by {skew:.1f} s ({a.clock.how})", fix))
    return found


def blocked(findings: list[Finding]) -> list[str]:
    """The labs some finding stops, in order."""
    return sorted({lab for f in findings for lab in f.stops})
