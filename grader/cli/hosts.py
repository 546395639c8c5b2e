"""`lab hosts up|down|list|env`: isolated libvirt hosts on this machine."""
import shlex

import click

from grader.cli.environment import current
from grader.cli.exits import handles_errors


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _render(hosts, services) -> str:
    """KIND: light (this machine's kernel) or vm (its own); KERNEL: a VM host's guest kernel."""
    rows = [("NAME", "KIND", "URI", "STATE", "ACCEL", "KERNEL")]
    rows += [(h.name, h.kind, h.uri, h.state, h.accel or "-", h.kernel or "-") for h in hosts]
    lines = [_table(rows) if hosts else "no lab hosts yet: run `lab hosts up`", ""]
    lines.append(_table([("SHARED", "SOURCE", "STATE")]
                        + [(s.name, s.where, s.state) for s in services]))
    return "\n".join(lines)


def _tcg_notes(hosts) -> list[str]:
    from grader.labhosts import kvm

    if not any(h.accel == "tcg" for h in hosts):
        return []
    if any(h.kind == "vm" for h in hosts):
        return ["note: VM hosts run under TCG (emulation): "
                + (kvm.device_problem() or "a Linux guest does not boot under KVM here")]
    problem = kvm.device_problem() or "LAB_ACCEL=tcg or libvirt does not offer kvm"
    return [f"note: domains run under TCG (emulation, slower), not KVM: {problem}"]


@click.group()
def hosts():
    """Start, stop and list the isolated lab hosts on this machine."""


@hosts.command("up")
@click.argument("names", nargs=-1)
@click.option("--require-kvm", is_flag=True, help="Fail instead of falling back to TCG.")
@click.option("--vm", "as_vm", is_flag=True,
              help="Virtual machines with their own kernel (LVM, ZFS, NFS, kernel iSCSI: lab5).")
@handles_errors
def up_command(names, require_kvm, as_vm):
    """Start lab hosts NAMES (default: a b) and the shared storage; idempotent.

    With --vm each host is a Debian 12 virtual machine; the first `up --vm` builds its image
    (several minutes, cached under LAB_HOME/images)."""
    from grader import labhosts

    started = labhosts.up(names or None, require_kvm=require_kvm, as_vm=as_vm,
                          say=current().err)
    current().out(_render(started, labhosts.services()))
    for note in _tcg_notes(started):
        current().out(note)


@hosts.command("down")
@click.argument("names", nargs=-1)
@click.option("--purge", is_flag=True, help="Also delete the hosts' definitions and images.")
@handles_errors
def down_command(names, purge):
    """Stop lab hosts NAMES, or all of them and the shared storage.

    VM hosts are suspended: the next `up --vm` resumes them in seconds, with all that ran
    inside; --purge powers them off and deletes them (the next `up --vm` boots afresh)."""
    from grader import labhosts

    labhosts.down(names or None, purge=purge, say=current().err)
    current().out(f"stopped: {', '.join(names) if names else 'all lab hosts and shared storage'}")


@hosts.command("list")
@handles_errors
def list_command():
    """Name, URI, state and KVM/TCG of every lab host, and the shared storage."""
    from grader import labhosts

    found = labhosts.status()
    current().out(_render(found, labhosts.services()))
    for note in _tcg_notes(found):
        current().out(note)


@hosts.command("env")
@handles_errors
def env_command():
    """POSIX export lines: eval "$(lab hosts env)" in a shell, or read them in a notebook."""
    from grader import labhosts

    for key, value in labhosts.environment().items():
        current().out(f"export {key}={shlex.quote(value)}")
