"""`lab start LAB` and `lab finish LAB`: prepare or remove a lab's state on the student's host(s).

The connections are read-write (said explicitly) and bounded like grading's: a host that never
answers fails in the connect timeout, one that stops answering is dropped by keepalive, and
Ctrl-C stops at once. A lab's own start options (lab4's --share) are declared in its lab.toml.
"""
from __future__ import annotations

import click

from grader.cli.environment import current
from grader.cli.exits import handles_errors
from grader.core import labdef
from grader.core.uris import ALLOW_URI_PARAM_HELP, allowed_params, parse_hosts
from grader.errors import UsageError

HOST_HELP = ("libvirt URI of the host; ROLE=URI for labs with several roles (default "
             "$LAB_URI_<ROLE>, for A also $LIBVIRT_DEFAULT_URI).")
#: Seconds a whole `lab start` may take: domains start in seconds even under TCG inside a VM host.
PROVISION_TIMEOUT = 600.0


def _lab_options(lab, extra: list[str]) -> dict[str, str]:
    """--NAME VALUE (or --NAME=VALUE) pairs, each one the lab declares in its lab.toml."""
    declared = {o.name: o for o in lab.start_options}
    options, args = {}, list(extra)
    while args:
        arg = args.pop(0)
        name, eq, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if name not in declared:
            known = ", ".join(f"--{n} {o.metavar}" for n, o in declared.items()) or "none"
            raise UsageError(f"{arg!r} is not an option of `lab start {lab.id}` (its options: {known})")
        if not eq:
            if not args:
                raise UsageError(f"--{name} needs a value: --{name} {declared[name].metavar}")
            value = args.pop(0)
        options[name] = value
    return options


def _run(lab_id: str, hosts, extra, action: str, allow_uri_params=()) -> None:
    from grader.provision import StartContext
    from grader.reading import connection

    env = current()
    lab = labdef.for_environment(env.env).load(lab_id)
    options = _lab_options(lab, extra) if action == "start" else {}
    if extra and action != "start":
        raise UsageError(f"`lab finish {lab.id}` takes no options but --host")
    uris = parse_hosts(hosts, lab.roles, env.env, allowed_params(allow_uri_params))
    conns = {}
    try:
        for role, uri in uris.items():
            conns[role] = connection.open_bounded(uri, write=True)
        ctx = StartContext(lab=lab.id, conns=conns, options=options, env=env.env)
        step = getattr(lab.module("start"), action)
        connection.bounded(lambda: step(ctx), PROVISION_TIMEOUT,
                           f"`lab {action} {lab.id}` did not finish within {PROVISION_TIMEOUT:g} s")
    finally:
        for conn in conns.values():
            connection.close(conn)
    done = "is ready on" if action == "start" else "removed from"
    env.out(f"{lab.id} {done} " + ", ".join(f"{r}={u}" for r, u in uris.items()))
    for note in ctx.notes:
        env.out(note)


@click.command("start", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("lab_id", metavar="LAB")
@click.option("--host", "hosts", multiple=True, metavar="[ROLE=]URI", help=HOST_HELP)
@click.option("--allow-uri-param", "allow_uri_params", multiple=True, metavar="NAME",
              help=ALLOW_URI_PARAM_HELP)
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
@handles_errors
def start(lab_id, hosts, allow_uri_params, extra):
    """Prepare LAB's starting state (running it again resets the lab).

    A lab may take options of its own, e.g. `lab start lab4 --share FORMAT://HOST/PATH`."""
    _run(lab_id, hosts, extra, "start", allow_uri_params)


@click.command("finish")
@click.argument("lab_id", metavar="LAB")
@click.option("--host", "hosts", multiple=True, metavar="[ROLE=]URI", help=HOST_HELP)
@click.option("--allow-uri-param", "allow_uri_params", multiple=True, metavar="NAME",
              help=ALLOW_URI_PARAM_HELP)
@handles_errors
def finish(lab_id, hosts, allow_uri_params):
    """Remove what LAB created (domains, volumes, pools) where the lab made them."""
    _run(lab_id, hosts, (), "finish", allow_uri_params)
