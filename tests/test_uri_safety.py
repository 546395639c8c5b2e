"""No URI runs a program: a roster row, an inventory variable or --host naming the ext transport,
ssh's command= or netcat= is refused with one line by every command, before libvirt sees it, and
the program never runs (libvirt itself would run it: the first test shows that it does)."""
from __future__ import annotations

import libvirt
import pytest

from grader.cli.main import grade, lab
from toyhelp import run


@pytest.fixture
def program(tmp_path):
    """A program that leaves a mark when it runs."""
    mark = tmp_path / "it-ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {mark}\nexit 1\n")
    script.chmod(0o755)
    return script, mark


def test_libvirt_runs_the_program_an_ext_uri_names(program):
    """The control: the threat is real, libvirt runs what the URI says."""
    script, mark = program
    with pytest.raises(libvirt.libvirtError):
        libvirt.open(f"test+ext:///default?command={script}")
    assert mark.exists()


def test_no_uri_runs_a_program_whatever_command_is_given_it(program, tmp_path):
    script, mark = program
    uris = [f"test+ext:///default?command={script}", f"qemu+ssh://127.0.0.1/system?command={script}",
            f"qemu+ssh://127.0.0.1/system?socket=/x;COMMAND={script}",
            f"qemu+ssh://127.0.0.1/system?netcat={script}"]
    roster = tmp_path / "class.csv"
    roster.write_text("student,A\n" + "".join(f"s{i},{uri}\n" for i, uri in enumerate(uris)))
    status, _, err = run(grade, "toy", "--roster", roster, "--out", tmp_path / "runs")
    assert status == 2 and "has 4 problem(s)" in err and "nothing was graded" in err
    assert [line.split(":")[0].strip() for line in err.splitlines()[1:]] == ["line 2", "line 3", "line 4", "line 5"]
    assert "the ext transport runs a program on this machine" in err and "netcat= runs a program" in err
    for uri in uris:
        for command in ((grade, "toy", "--host", uri), (grade, "toy", "--host", uri, "--allow-uri-param", "command"),
                        (lab, "doctor", "--host", uri), (lab, "start", "toy", "--host", uri),
                        (lab, "finish", "toy", "--host", uri)):
            status, out, err = run(*command)
            assert status == 2 and len(err.strip().splitlines()) == 1 and not out, (command, err)
            assert "runs a program" in err or "so no URI may carry it" in err, err
    assert not mark.exists()
    assert not (tmp_path / "runs").exists()
