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
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from grader import ROOT
from grader.labhosts.config import Settings

pytestmark = pytest.mark.labhost
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


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

    def pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def accept():
        while True:
            try:
                client = server.accept()[0]
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(str(target))
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"qemu+unix:///system?socket={path}"
    server.close()


def as_nobody(*argv, home):
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C", "LAB_LANG": "en"}
    return subprocess.run([*NOBODY, *argv], capture_output=True, text=True, env=env, timeout=60)


def test_an_unprivileged_user_grades_through_the_read_only_socket(labhosts, readonly_socket, tmp_path):
    home = Path(tempfile.mkdtemp(prefix="nobody-"))
    home.chmod(0o777)
    grade = str(ROOT / ".venv" / "bin" / "grade")
    ro = as_nobody(grade, "lab3", "--host", readonly_socket, "--format", "json", home=home)
    assert ro.returncode in (0, 1), ro.stderr
    admin = subprocess.run([grade, "lab3", "--host", labhosts.uri("a"), "--format", "json"],
                           capture_output=True, text=True, timeout=60)
    ro_result, admin_result = json.loads(ro.stdout)["results"][0], json.loads(admin.stdout)["results"][0]
    assert ro_result["status"] == admin_result["status"]
    assert ro_result["score"] == admin_result["score"]
    assert [e["feedback"] for e in ro_result["exercises"]] == [e["feedback"] for e in admin_result["exercises"]]


def test_through_the_read_only_socket_nothing_can_be_changed(readonly_socket):
    home = Path(tempfile.mkdtemp(prefix="nobody-"))
    home.chmod(0o777)
    pool = "<pool type='dir'><name>t-should-not-exist</name><target><path>/tmp/x</path></target></pool>"
    script = ("import libvirt,sys\n"
              f"c = libvirt.open({readonly_socket!r})\n"
              f"c.storagePoolDefineXML({pool!r}, 0)\n")
    result = as_nobody(str(ROOT / ".venv" / "bin" / "python"), "-c", script, home=home)
    assert result.returncode != 0
    assert "read only access prevents" in result.stderr or "read-only" in result.stderr.lower()
