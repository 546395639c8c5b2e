"""`lab doctor --host URI [--host B=URI]`: is a classroom host ready for the labs? Read-only.

Thin: read the hosts and the course's services (grader.doctor.hostfacts), judge
(grader.doctor.judge), print one line per finding, exit 1 when a lab cannot run there.
"""
from __future__ import annotations

import click

from grader.cli.environment import current
from grader.cli.exits import ExitStatus, handles_errors
from grader.core import labdef
from grader.core.uris import ALLOW_URI_PARAM_HELP, allowed_params, parse_hosts


@click.command("doctor")
@click.option("--host", "hosts", multiple=True, metavar="[ROLE=]URI",
              help="Host to check: URI for role A, B=URI for lab4's second host (default "
                   "$LAB_URI_A and $LAB_URI_B, for A also $LIBVIRT_DEFAULT_URI).")
@click.option("--lab", "labs", multiple=True, metavar="LAB",
              help="Judge for these labs only (repeatable; default every lab).")
@click.option("--allow-uri-param", "allow_uri_params", multiple=True, metavar="NAME",
              help=ALLOW_URI_PARAM_HELP)
@handles_errors
def doctor(hosts, labs, allow_uri_params):
    """Check classroom hosts before a lab, read-only: reachable, KVM or TCG, the pool types their
    libvirt supports, the course's export and iSCSI target, A's clock against B's."""
    from grader.doctor import judge as judgement
    from grader.doctor import hostfacts

    env = current()
    course_labs = labdef.for_environment(env.env)
    labs = [course_labs.load(lab) for lab in labs] or course_labs.all()
    with_b = any(h.upper().startswith("B=") for h in hosts) if hosts else bool(env.env.get("LAB_URI_B"))
    roles = ("A", "B") if with_b else ("A",)
    uris = parse_hosts(hosts, roles, env.env, allowed_params(allow_uri_params))
    facts = {role: hostfacts.read_host(role, uri) for role, uri in uris.items()}
    findings = judgement.judge(facts, hostfacts.course_services(env.env), labs)
    for finding in findings:
        env.out(finding.line())
    stopped = judgement.blocked(findings)
    if stopped:
        env.out(f"cannot run here: {', '.join(stopped)}")
        return ExitStatus.PROBLEMS
    env.out(f"ready for {', '.join(lab.id for lab in labs)}")
    return ExitStatus.OK
