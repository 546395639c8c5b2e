"""What the one-host lab end-to-end tests do the same way: run `lab ...` and `grade LAB --format
json` through click's runner, and read one student's exercises by id."""
from __future__ import annotations

import json

from click.testing import CliRunner

from grader.cli.main import grade, lab


def lab_command(*args: str) -> None:
    result = CliRunner().invoke(lab, list(args))
    assert result.exit_code == 0, result.output


def graded_exercises(lab_id: str, uri: str, *extra: str) -> dict:
    """`grade LAB --host URI --format json`: exit 0, no traceback; exercises by id."""
    result = CliRunner().invoke(grade, [lab_id, "--host", uri, "--format", "json", *extra])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return {e["id"]: e for e in json.loads(result.stdout)["results"][0]["exercises"]}
