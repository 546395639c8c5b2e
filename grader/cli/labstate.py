"""`lab start LAB` and `lab finish LAB`: prepare or remove a lab's state on the student's host(s)."""
from __future__ import annotations

import click

from grader import labdef
from grader.cli.main import reports_errors
from grader.hostargs import parse_hosts
from grader.provision import StartContext, open_readwrite

HOST_HELP = "libvirt URI of the host; ROLE=URI for labs with several roles (default $LIBVIRT_DEFAULT_URI)."


def _context(lab_id: str, hosts, options: dict) -> tuple[labdef.Lab, StartContext]:
    lab = labdef.load(lab_id)
    uris = parse_hosts(hosts, lab.roles)
    conns = {role: open_readwrite(uri) for role, uri in uris.items()}
    return lab, StartContext(lab=lab.id, conns=conns, options={k: v for k, v in options.items() if v})


@click.command("start")
@click.argument("lab_id", metavar="LAB")
@click.option("--host", "hosts", multiple=True, metavar="[ROLE=]URI", help=HOST_HELP)
@click.option("--share", metavar="FORMAT://HOST/PATH",
              help="Shared export for netfs pools (default from LAB_SHARE_HOST/PATH/FORMAT).")
@reports_errors
def start(lab_id, hosts, share):
    """Prepare LAB's starting state (running it again resets the lab)."""
    lab, ctx = _context(lab_id, hosts, {"share": share})
    lab.module("start").start(ctx)
    click.echo(f"{lab.id} is ready on " + ", ".join(f"{r}={c.getURI()}" for r, c in ctx.conns.items()))


@click.command("finish")
@click.argument("lab_id", metavar="LAB")
@click.option("--host", "hosts", multiple=True, metavar="[ROLE=]URI", help=HOST_HELP)
@reports_errors
def finish(lab_id, hosts):
    """Remove what LAB created (domains, volumes, pools)."""
    lab, ctx = _context(lab_id, hosts, {})
    lab.module("start").finish(ctx)
    click.echo(f"{lab.id} removed from " + ", ".join(f"{r}={c.getURI()}" for r, c in ctx.conns.items()))
