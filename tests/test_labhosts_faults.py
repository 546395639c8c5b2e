"""Bad input and faults: each is one line on stderr, exit status 2, and nothing left running."""
from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

import nobodyhelp
from grader.cli.main import lab
from grader.labhosts import gluster, iscsi, procs
from grader.labhosts.config import Settings
from grader.labhosts.preflight import PROGRAMS


def one_line_error(result, *words):
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr


@pytest.fixture
def scratch_env(tmp_path, port_base):
    return {"LAB_HOME": str(tmp_path / "labhome"), "LAB_PORT_BASE": port_base(["dz", "px"])}


def nothing_started(env) -> None:
    settings = Settings.from_env(env)
    assert iscsi.pid(settings) is None
    assert not procs.port_open(settings.iscsi_port)
    if gluster.glusterd_pids():
        assert settings.share_volume not in gluster.volumes()
    for host in settings.hosts_dir.glob("*") if settings.hosts_dir.exists() else []:
        ns = host / "mntns"
        assert not ns.exists() or procs.pids_in_ns(ns.read_text().strip()) == []


@pytest.mark.parametrize("args, words", [
    (["up", "Bad_Name"], ["invalid host name 'Bad_Name'", "lowercase"]),
    (["up", "a", "../etc"], ["invalid host name"]),
    (["down", "nosuch"], ["no lab host named nosuch"]),
])
def test_unknown_or_invalid_host_name(scratch_env, args, words):
    result = CliRunner().invoke(lab, ["hosts", *args], env=scratch_env)
    one_line_error(result, *words)
    nothing_started(scratch_env)


@pytest.mark.labhost
def test_port_in_use_by_another_program(scratch_env):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {**scratch_env, "LAB_PORT_PX": str(port)}
        result = CliRunner().invoke(lab, ["hosts", "up", "px"], env=env)
    one_line_error(result, f"port {port}", "in use", "LAB_PORT_PX")
    nothing_started(env)


def test_not_root(scratch_env):
    """Really as `nobody` (setpriv), not by pretending; from a checkout anywhere."""
    site = nobodyhelp.world_readable_site()
    home = nobodyhelp.nobody_home()
    try:
        result = nobodyhelp.as_nobody(*nobodyhelp.command_argv(site, "lab"), "hosts", "up",
                                      home=home, env=scratch_env)
    finally:
        shutil.rmtree(site, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "as root" in result.stderr
    nothing_started(scratch_env)


@pytest.mark.parametrize("missing", ["tgtd", "mount.glusterfs", "libvirtd"])
def test_a_debian_package_missing(scratch_env, tmp_path, missing):
    """A PATH holding every program lab hosts need except one."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in PROGRAMS:
        if program != missing:
            (bin_dir / program).symlink_to(shutil.which(program))
    result = CliRunner().invoke(lab, ["hosts", "up"], env={**scratch_env, "PATH": str(bin_dir)})
    one_line_error(result, f"{missing} not found", f"Debian package {PROGRAMS[missing]}",
                   "scripts/install.sh")
    nothing_started(scratch_env)


@pytest.mark.labhost
def test_a_daemon_that_dies_at_start_leaves_nothing_behind(scratch_env):
    """A broken libvirtd config: the shared services this call started are stopped again."""
    home = Path(scratch_env["LAB_HOME"])
    home.mkdir(parents=True)
    (home / "libvirtd-extra.conf").write_text("this is = not [ a libvirt config\n")
    result = CliRunner().invoke(lab, ["hosts", "up", "dz"], env=scratch_env)
    one_line_error(result, "libvirtd of lab host dz died at start")
    nothing_started(scratch_env)
