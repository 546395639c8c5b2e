"""Under nbgrader's autograde a notebook reaches no host (grader.notebook.autograde).

The same small notebook runs twice in a real kernel against a real lab host: for the student
(NBGRADER_EXECUTION unset) its `%%host` cell and its own libvirt and virsh calls work; under
autograde the `%%host` cell prints one line and is skipped, and libvirt.open, subprocess, `!virsh`
and os.system refuse with one line that says why, while a plain command and plain Python still run.
"""
from __future__ import annotations

import os
import tempfile

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from grader.notebook.autograde import commands_of, host_cell, is_host_command

SKIPPED = "skipped"


@pytest.mark.parametrize("argv, commands", [
    ("virsh list", ["virsh"]),
    (["/usr/bin/virsh", "-c", "qemu:///system", "list"], ["virsh"]),
    (b"virsh list", ["virsh"]),
    (["bash", "-c", "echo hi; qemu-img info x.qcow2 | head"], ["bash", "echo", "qemu-img", "head"]),
    (["env", "LIBVIRT_DEFAULT_URI=qemu:///system", "virsh", "list"], ["env", "virsh"]),
    (["timeout", "5", "ssh", "root@host"], ["timeout", "ssh"]),
    ("FOO=1 lab start lab3 && grade lab3", ["lab", "grade"]),
    ("echo $(virsh list)", ["echo", "virsh"]),
    (["fc-list", "--format=%{file}"], ["fc-list"]),
])
def test_commands_of_finds_every_program_a_command_line_runs(argv, commands):
    assert commands_of(argv) == commands


@pytest.mark.parametrize("argv, refused", [
    ("virsh list", True), (["qemu-system-x86_64", "-m", "64"], True), (["virt-install"], True),
    (["sh", "-c", "ls /tmp; virsh start vm"], True), (["fc-list"], False), ("ls | grep lab", False),
    (["python3", "-c", "print(1)"], False),
])
def test_host_commands_are_the_ones_that_reach_a_host(argv, refused):
    assert is_host_command(argv) is refused


def test_a_host_cell_loses_its_magic_line_for_the_student_and_everything_under_autograde():
    cell = ["\n", "%%host\n", "conn = libvirt.open()\n"]
    assert host_cell(cell, lambda: SKIPPED, env={}) == ["\n", "conn = libvirt.open()\n"]
    assert host_cell(cell, lambda: SKIPPED, env={"NBGRADER_EXECUTION": "autograde"}) == [f"print({SKIPPED!r})\n"]
    plain = ["x = 1\n", "%%host\n"]
    assert host_cell(plain, lambda: SKIPPED, env={"NBGRADER_EXECUTION": "autograde"}) == plain


def _notebook(uri: str):
    nb = new_notebook(cells=[
        new_code_cell('LANG = "en"\nimport os, subprocess\nimport libvirt\n'
                      "from grader.notebook import set_language\nset_language(LANG)"),
        new_code_cell(f"%%host\nconn = libvirt.open({uri!r})\nprint('host cell ran on', conn.getURI())"),
        new_code_cell(f"print(libvirt.open({uri!r}).getURI())"),
        new_code_cell(f"print(subprocess.run(['virsh', '-c', {uri!r}, 'uri'], capture_output=True, text=True).stdout)"),
        new_code_cell(f"!virsh -c {uri} uri"),
        new_code_cell(f"os.system('virsh -c {uri} uri')"),
        new_code_cell("print(subprocess.run(['echo', 'plain command'], capture_output=True, text=True).stdout)"),
        new_code_cell("print(sum(range(4)))"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _run(uri: str, autograde: bool) -> list[str]:
    """Each code cell's outputs as one text: streams, results and errors."""
    nb = _notebook(uri)
    env = {k: v for k, v in os.environ.items() if k != "NBGRADER_EXECUTION"}
    if autograde:
        env["NBGRADER_EXECUTION"] = "autograde"
    with tempfile.TemporaryDirectory() as cwd:
        NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": cwd}}).execute(env=env)
    return ["".join(o.get("text", "") or o.get("evalue", "") or str(o.get("data", {}).get("text/plain", ""))
                    for o in cell.outputs) for cell in nb.cells]


@pytest.fixture(scope="module")
def outputs(labhosts):
    uri = labhosts.uri("a")
    return uri, _run(uri, autograde=False), _run(uri, autograde=True)


@pytest.mark.labhost
def test_for_the_student_every_cell_reaches_the_host(outputs):
    uri, student, _ = outputs
    assert student[1] == f"host cell ran on {uri}\n"
    for i in (2, 3, 4):   # libvirt.open, subprocess.run, !virsh
        assert uri in student[i], student[i]


@pytest.mark.labhost
def test_under_autograde_nothing_reaches_the_host_and_each_refusal_says_why(outputs):
    uri, _, graded = outputs
    assert graded[1] == "(host cell skipped: nbgrader's autograde runs no cell that works on a libvirt host)\n"
    refusal = "refused under nbgrader's autograde"
    assert graded[2].startswith(f"{refusal}: libvirt.open() would reach a host"), graded[2]
    for i in (3, 4, 5):
        assert refusal in graded[i] and "virsh" in graded[i] and uri not in graded[i].split(refusal)[0], graded[i]
        assert "\n" not in graded[i].strip() or i == 4, graded[i]
    assert graded[6] == "plain command\n\n" and graded[7] == "6\n"
