"""grader.notebook.host_shell: a notebook's command on the lab host itself (lab5's lvcreate, zfs,
dd into a logical volume), through $LAB_SSH_<ROLE>, ssh to a qemu+ssh:// host, or here."""
from __future__ import annotations

import pytest

from grader.notebook import HostCommandFailed, host_command, host_shell

SSH_A = "ssh -i /k/id -p 17611 -o BatchMode=yes root@127.0.0.1"


@pytest.mark.parametrize("env, role, argv", [
    ({"LAB_SSH_A": SSH_A}, "A", ["ssh", "-i", "/k/id", "-p", "17611", "-o", "BatchMode=yes",
                                 "root@127.0.0.1", "lvs"]),
    ({"LAB_SSH_A": SSH_A, "LAB_SSH_B": "ssh -p 17621 root@127.0.0.1"}, "b",
     ["ssh", "-p", "17621", "root@127.0.0.1", "lvs"]),
    ({"LIBVIRT_DEFAULT_URI": "qemu+ssh://root@10.0.0.12/system"}, "A",
     ["ssh", "-o", "BatchMode=yes", "root@10.0.0.12", "lvs"]),
    ({"LAB_URI_A": "qemu+ssh://student@host.example:2222/system"}, "A",
     ["ssh", "-p", "2222", "-o", "BatchMode=yes", "student@host.example", "lvs"]),
    ({"LIBVIRT_DEFAULT_URI": "qemu:///system"}, "A", ["sh", "-c", "lvs"]),
    ({"LIBVIRT_DEFAULT_URI": "qemu+ssh://root@10.0.0.12/system"}, "B", ["sh", "-c", "lvs"]),
    ({}, "A", ["sh", "-c", "lvs"]),
])
def test_the_command_goes_where_the_host_is(env, role, argv):
    assert host_command("lvs", role, env) == argv


def test_a_command_runs_here_without_ssh_and_returns_its_output():
    done = host_shell("echo made; echo note >&2", env={})
    assert (done.returncode, done.stdout, done.stderr) == (0, "made\n", "note\n")


def test_lab_ssh_is_a_command_line_that_takes_the_command_last():
    """Any program that runs its last argument as a shell command stands in for ssh."""
    done = host_shell("echo $((6 * 7))", env={"LAB_SSH_A": "sh -c"})
    assert done.stdout == "42\n"


def test_a_failure_is_one_line_with_the_command_and_its_last_error():
    with pytest.raises(HostCommandFailed) as raised:
        host_shell("echo first >&2; echo 'no such volume group' >&2; exit 5", env={})
    assert str(raised.value) == ("`echo first >&2; echo 'no such volume group' >&2; exit 5` failed on "
                                 "host A (exit status 5): no such volume group")
    assert host_shell("exit 3", env={}, check=False).returncode == 3
