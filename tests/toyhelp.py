"""The engine's own lab (tests/toylabs/toy) and its simulated hosts (libvirt's test driver):
engine tests use these, so they never change when a course lab does."""
from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner

from grader.cli.environment import Environment
from grader.core.labdef import Labs

LABS_DIR = Path(__file__).resolve().parent / "toylabs"
TOY = Labs(LABS_DIR).load("toy")
HOSTS = LABS_DIR / "toy" / "hosts"


def host(state: str) -> str:
    """test:/// URI of a simulated host in `state` (right, untouched, recreated)."""
    return f"test://{HOSTS / f'{state}.xml'}"


def evidence(state: str, student: str = "s"):
    from classhelp import collect_student

    return collect_student(TOY, student, {"A": host(state)})


def run(command, *args, cwd: Path | None = None, env: dict | None = None, terminal: bool = False):
    """A command as the user types it, with the toy labs and an Environment of the test's own:
    (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    environment = Environment(env={"LAB_LABS_DIR": str(LABS_DIR), "LANG": "C", **(env or {})},
                              cwd=cwd or Path.cwd(), stdout=out, stderr=err,
                              stdout_is_terminal=terminal, stderr_is_terminal=False, columns=100)
    result = CliRunner().invoke(command, [str(a) for a in args], obj=environment, catch_exceptions=False)
    return result.exit_code, out.getvalue(), err.getvalue()
