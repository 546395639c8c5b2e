"""Least privilege (issue 6, item 7): grading needs no root on a student's host, only libvirt's
read-only socket, and through that socket nothing can be changed.

On lab hosts the host's /run/libvirt is private (0700), unlike a real host's /var/run/libvirt
(0755); so the test relays the lab host's `libvirt-sock-ro` to a socket an unprivileged user can
reach, exactly as the read-only socket is reached on a real host. The relay forwards bytes only:
libvirtd still sees a client of its read-only socket.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import nobodyhelp
from grader.labhosts.config import Settings
from grader.testing.loopback import pipe

pytestmark = pytest.mark.labhost


@pytest.fixture
def readonly_socket(labhosts):
    target = Settings.from_env().host_dir("a") / "run" / "libvirt-sock-ro"
    assert target.is_socket(), f"lab host a has no read-only socket at {target}"
    folder = Path(tempfile.mkdtemp(prefix="ro-"))
    folder.chmod(0o755)
    path = folder / "libvirt-sock-ro"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    path.chmod(0o777)
    server.listen(16)

    def accept():
        while True:
            try:
                client = server.accept()[0]
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(str(target))
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"qemu+unix:///system?socket={path}"
    server.close()


@pytest.fixture(scope="module")
def world_readable_site():
    site = nobodyhelp.world_readable_site()
    yield site
    shutil.rmtree(site, ignore_errors=True)


def grade_argv(site: Path) -> list[str]:
    return nobodyhelp.command_argv(site, "grade")


def as_nobody(*argv, home):
    return nobodyhelp.as_nobody(*argv, home=home)


def test_an_unprivileged_user_grades_through_the_read_only_socket(labhosts, readonly_socket,
                                                                  world_readable_site):
    home = nobodyhelp.nobody_home()
    grade = grade_argv(world_readable_site)
    ro = as_nobody(*grade, "lab3", "--host", readonly_socket, "--format", "json", home=home)
    assert ro.returncode in (0, 1), ro.stderr
    admin = subprocess.run([*grade, "lab3", "--host", labhosts.uri("a"), "--format", "json"],
                           capture_output=True, text=True, timeout=60)
    ro_result, admin_result = json.loads(ro.stdout)["results"][0], json.loads(admin.stdout)["results"][0]
    assert ro_result["status"] == admin_result["status"]
    assert ro_result["score"] == admin_result["score"]
    assert [e["feedback"] for e in ro_result["exercises"]] == [e["feedback"] for e in admin_result["exercises"]]


def test_through_the_read_only_socket_nothing_can_be_changed(readonly_socket, world_readable_site):
    home = nobodyhelp.nobody_home()
    pool = "<pool type='dir'><name>t-should-not-exist</name><target><path>/tmp/x</path></target></pool>"
    script = (f"import sys; sys.path[:0] = [{str(world_readable_site)!r}]\nimport libvirt\n"
              f"c = libvirt.open({readonly_socket!r})\n"
              f"c.storagePoolDefineXML({pool!r}, 0)\n")
    result = as_nobody(os.path.realpath(sys.executable), "-I", "-c", script, home=home)
    assert result.returncode != 0
    assert "read only access prevents" in result.stderr or "read-only" in result.stderr.lower()


# --- the classroom route: an ssh account whose key reaches only the read-only socket ----------

GRADER_USER = "labgrader"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_account(user: str) -> None:
    """An ordinary account: no sudo, not in the libvirt group; '*' = no password, not locked."""
    if subprocess.run(["id", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--shell", "/bin/sh", "--home-dir", "/nonexistent",
                        "--no-create-home", user], check=True)
    subprocess.run(["usermod", "-p", "*", user], check=True)


@pytest.fixture
def ssh_readonly_uri(readonly_socket):
    """A loopback sshd where the grader's key is forced to `nc -U <read-only socket>`, exactly
    as docs/instructor.md sets it up for a class; yields the qemu+ssh URI an instructor uses."""
    sshd = Path("/usr/sbin/sshd")
    assert sshd.exists(), "openssh-server is missing: run scripts/install.sh"
    ro_path = readonly_socket.split("socket=", 1)[1]
    folder = Path(tempfile.mkdtemp(prefix="sshd-"))
    folder.chmod(0o755)
    for key in ("host", "id"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)], check=True)
    _ensure_account(GRADER_USER)
    pub = (folder / "id.pub").read_text().strip()
    keys = folder / "authorized_keys"
    keys.write_text(f'restrict,command="nc -U {ro_path}" {pub}\n')
    keys.chmod(0o644)
    port = _free_port()
    config = folder / "sshd_config"
    config.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host'}\n"
                      f"PidFile {folder / 'sshd.pid'}\nAuthorizedKeysFile {keys}\nStrictModes no\n"
                      f"UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                      f"AllowUsers {GRADER_USER}\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    proc = subprocess.Popen([str(sshd), "-D", "-e", "-f", str(config)],
                            stdout=subprocess.DEVNULL, stderr=(folder / "sshd.log").open("w"))
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        known_hosts = folder / "known_hosts"       # the host key pinned, as a course does it
        known_hosts.write_text(f"[127.0.0.1]:{port} {(folder / 'host.pub').read_text().strip()}\n")
        yield (f"qemu+ssh://{GRADER_USER}@127.0.0.1:{port}/system?keyfile={folder / 'id'}"
               f"&known_hosts={known_hosts}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_class_is_graded_over_ssh_with_a_key_that_reaches_only_the_read_only_socket(
        labhosts, ssh_readonly_uri, tmp_path):
    grade = str(Path(sys.executable).with_name("grade"))
    roster = tmp_path / "roster.csv"
    roster.write_text(f"student,A\nana,{ssh_readonly_uri}\nben,{labhosts.uri('a')}\n")
    run = subprocess.run([grade, "lab3", "--roster", str(roster), "--out", str(tmp_path / "runs"),
                          "--format", "json", "--timeout", "30"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    by_student = {r["student"]: r for r in json.loads(run.stdout)["results"]}
    ssh, direct = by_student["ana"], by_student["ben"]
    assert ssh["status"] == "graded", ssh["error"]
    assert ssh["score"] == direct["score"]
    assert [e["feedback"] for e in ssh["exercises"]] == [e["feedback"] for e in direct["exercises"]]


def test_the_ssh_key_cannot_change_anything(ssh_readonly_uri):
    script = ("import libvirt\n"
              "from grader.reading import connection\n"      # its ssh, pinned to the known_hosts
              f"c = libvirt.open(connection.connect_uri({ssh_readonly_uri!r}, connection.Limits()))\n"
              "c.storagePoolDefineXML(\"<pool type='dir'><name>t-no</name><target><path>/tmp/no</path>"
              "</target></pool>\", 0)\n")
    result = subprocess.run([sys.executable, "-c", script],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "read only access prevents" in result.stderr or "read-only" in result.stderr.lower()


def test_a_host_key_not_in_the_uris_known_hosts_is_not_trusted(ssh_readonly_uri, tmp_path):
    """known_hosts= pins the host keys (the grader's ssh wrapper: StrictHostKeyChecking=yes):
    another key for the same address makes the student unreachable, never trusted on first use."""
    known_hosts = Path(ssh_readonly_uri.rpartition("known_hosts=")[2])
    good = known_hosts.read_text()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    known_hosts.write_text(good.split(" ", 1)[0] + " " + (tmp_path / "other.pub").read_text())
    grade = str(Path(sys.executable).with_name("grade"))
    run = subprocess.run([grade, "lab3", "--host", ssh_readonly_uri, "--format", "json", "--timeout", "30"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    [result] = json.loads(run.stdout)["results"]
    assert result["status"] == "unreachable" and "HOST IDENTIFICATION HAS CHANGED" in result["error"]
