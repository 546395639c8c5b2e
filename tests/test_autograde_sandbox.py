"""The sandbox a student's kernel runs in under nbgrader's autograde (grader.notebook.sandbox),
tried on its command line with a small program in place of a kernel: its user and capabilities,
its bounds (wall time with everything it started, CPU, memory, processes, the size of its home),
the paths it refuses to show, the environment it keeps, and one-line refusals without bwrap.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.notebook import sandbox
from grader.notebook.sandbox import Limits, Plan, SandboxUnavailable

PYTHON = str(Path(sys.executable).parent / "python")
GiB = 1 << 30


def _plan(tmp_path: Path, **limits) -> Plan:
    submission = tmp_path / "submission"
    submission.mkdir(exist_ok=True)
    kernel_dir = tmp_path / "kernel"
    kernel_dir.mkdir(exist_ok=True)
    user = sandbox.NOBODY if os.geteuid() == 0 else None
    if user is not None:
        os.chown(kernel_dir, user, user)
    return Plan(bwrap=sandbox.find_bwrap("bwrap"), kernel_dir=str(kernel_dir), submission=str(submission),
                name="lab0", readonly=sandbox.visible_paths(sandbox.python_paths(), [str(tmp_path)]),
                env=sandbox.kernel_env(dict(os.environ)), limits=Limits(**limits), user=user)


def _run(plan: Plan, *argv: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run(sandbox.command(plan, list(argv)), capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - start


def test_the_kernel_runs_as_nobody_without_capabilities_or_new_privileges(tmp_path):
    proc, _ = _run(_plan(tmp_path), "/bin/sh", "-c", "grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs)' /proc/self/status")
    status = dict(line.split(":\t", 1) for line in proc.stdout.splitlines())
    uid = str(sandbox.NOBODY if os.geteuid() == 0 else os.getuid())
    assert status["Uid"].split()[0] == uid, proc.stdout + proc.stderr
    assert int(status["CapEff"], 16) == 0 and status["NoNewPrivs"].strip() == "1"
    if os.geteuid() == 0:
        assert int(status["CapBnd"], 16) == 0


def test_the_whole_kernel_is_killed_after_its_wall_time(tmp_path):
    """Killed with everything it started (a PID namespace dies with its first process)."""
    naptime = f"{secrets.randbelow(1000) + 1000}.5"   # a duration no other process sleeps
    proc, took = _run(_plan(tmp_path, wall=2), "/bin/sh", "-c", f"/bin/sleep {naptime} & /bin/sleep {naptime}")
    assert proc.returncode == -9 and took < 15, (proc.returncode, took, proc.stderr)
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", f"sleep {naptime}"], capture_output=True, text=True).stdout
    assert left == "", left


def test_cpu_time_is_bounded(tmp_path):
    proc, took = _run(_plan(tmp_path, cpu=1), PYTHON, "-c", "while True: pass")
    assert proc.returncode in (-24, 128 + 24, -9, 128 + 9) and took < 30, (proc.returncode, took)


def test_memory_is_bounded(tmp_path):
    proc, _ = _run(_plan(tmp_path, memory=1 * GiB), PYTHON, "-c",
                   "try:\n    b = bytearray(2 << 30)\nexcept MemoryError:\n    print('refused')\nelse:\n    print('got it')")
    assert proc.stdout.strip() == "refused", proc.stdout + proc.stderr


def test_the_number_of_processes_is_bounded(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the process bound applies to the sandbox's own user: run as root, as CI does")
    script = ("import subprocess\nprocs = []\ntry:\n    for _ in range(60):\n"
              "        procs.append(subprocess.Popen(['/bin/sleep', '20']))\nexcept OSError as e:\n"
              "    print('stopped at', len(procs), type(e).__name__)\nfor p in procs:\n    p.kill()\n")
    proc, _ = _run(_plan(tmp_path, processes=20), PYTHON, "-c", script)
    assert proc.stdout.startswith("stopped at") and int(proc.stdout.split()[2]) < 20, proc.stdout + proc.stderr


def test_the_home_is_bounded(tmp_path):
    proc, _ = _run(_plan(tmp_path, home=8 << 20), "/bin/sh", "-c",
                   "head -c 20000000 /dev/zero > big || echo full; ls -l big")
    assert "full" in proc.stdout, proc.stdout + proc.stderr


def test_a_python_that_would_show_the_course_is_refused(tmp_path):
    course = tmp_path / "course"
    (course / ".venv").mkdir(parents=True)
    assert sandbox.visible_paths([str(course / ".venv")], [str(course)]) == (str(course / ".venv"),)
    with pytest.raises(SandboxUnavailable, match=r"would show .*gradebook.db.* move one out of the other"):
        sandbox.visible_paths([str(course)], [str(course / "gradebook.db")])


def test_the_kernel_keeps_only_its_own_environment():
    env = sandbox.kernel_env({"LAB_URI_A": "x", "LIBVIRT_DEFAULT_URI": "y", "SSH_AUTH_SOCK": "z", "LAB_HOME": "h",
                              "HOME": "/root", "NBGRADER_EXECUTION": "autograde", "LANG": "es_ES.UTF-8",
                              "JPY_PARENT_PID": "7"}, {"SPEC": "1"})
    assert env["NBGRADER_EXECUTION"] == "autograde" and env["LANG"] == "es_ES.UTF-8" and env["SPEC"] == "1"
    assert env["HOME"] == sandbox.HOME and env["JPY_PARENT_PID"] == "1"
    assert not any(k.startswith(("LAB_", "LIBVIRT", "SSH_")) for k in env)


def test_a_missing_bwrap_is_named_with_the_package_to_install():
    with pytest.raises(SandboxUnavailable) as refusal:
        sandbox.find_bwrap("bwrap", env={"PATH": "/nonexistent"})
    assert "\n" not in str(refusal.value) and "apt-get install bubblewrap" in str(refusal.value)


def test_a_bwrap_that_cannot_make_a_sandbox_is_refused_in_one_line():
    with pytest.raises(SandboxUnavailable) as refusal:
        sandbox.probe("/bin/false")
    assert "\n" not in str(refusal.value) and "cannot make a sandbox" in str(refusal.value)
