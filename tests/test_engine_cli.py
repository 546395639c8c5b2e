"""`grade` on the command line: exit statuses 0/1/2, the documented JSON shape, one-line errors,
and --from-evidence giving the identical result (libvirt's test driver plays the host)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from grader.core import labdef
from grader.cli.main import grade
from test_engine_evidence import NODE  # the same simulated host

FIXTURES = labdef.DEFAULT.folder / "lab3" / "fixtures"


@pytest.fixture
def run():
    def invoke(*args):
        return CliRunner().invoke(grade, list(args), catch_exceptions=False)
    return invoke


@pytest.fixture
def test_host(tmp_path):
    path = tmp_path / "host.xml"
    path.write_text(NODE)
    return f"test://{path}"


def test_json_shape_of_a_graded_student(run):
    result = run("lab3", "--from-evidence", str(FIXTURES / "solved.json"), "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert {"lab": "lab3", "max_score": 10}.items() <= data.items()
    [student] = data["results"]
    assert {"student", "hosts", "status", "error", "score", "exercises"} <= set(student)
    assert (student["status"], student["error"], student["score"]) == ("graded", None, 10)
    assert list(student["hosts"]) == ["A"]
    assert [e["id"] for e in student["exercises"]] == ["snap-offline", "snap-live", "snap-revert", "snap-external"]
    for ex in student["exercises"]:
        assert ex["score"] == ex["max_score"] and ex["feedback"].startswith("Good")


def test_table_shows_every_exercise_and_the_total(run):
    result = run("lab3", "--from-evidence", str(FIXTURES / "revert-skipped.json"), "--lang", "es")
    assert result.exit_code == 0
    for word in ("snap-offline", "snap-external", "Total", "Comentarios"):
        assert word in result.stdout


def test_live_grade_and_from_evidence_are_identical(run, test_host, tmp_path):
    saved = tmp_path / "ev.json"
    live = run("lab3", "--host", test_host, "--save-evidence", str(saved), "--format", "json")
    offline = run("lab3", "--from-evidence", str(saved), "--format", "json")
    assert live.exit_code == offline.exit_code == 0
    assert json.loads(live.stdout) == json.loads(offline.stdout)
    assert json.loads(live.stdout)["results"][0]["score"] == 0


def test_unreachable_host_exits_1_with_a_result(run):
    result = run("lab3", "--host", "qemu+tcp://127.0.0.1:1/system", "--format", "json")
    assert result.exit_code == 1
    [student] = json.loads(result.stdout)["results"]
    assert student["status"] == "unreachable" and student["score"] is None
    assert student["error"].startswith("host A: cannot connect to qemu+tcp://127.0.0.1:1/system")


@pytest.mark.parametrize("args,message", [
    (["lab99"], "error: unknown lab 'lab99': use one of "),
    (["lab3", "--exercise", "snap-nope", "--host", "test:///default"], "error: lab lab3 has no exercise 'snap-nope'"),
    (["lab3", "--host", "qemu:/oops"], "error: malformed libvirt URI 'qemu:/oops'"),
    (["lab3", "--host", "B=test:///default"], "error: this lab has no role B"),
    (["lab3", "--from-evidence", "/nonexistent/ev.json"], "error: no evidence file at /nonexistent/ev.json"),
])
def test_usage_errors_exit_2_with_one_line(run, args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_evidence_of_another_lab_or_not_evidence_at_all(run, tmp_path):
    other = tmp_path / "other.json"
    data = json.loads((FIXTURES / "solved.json").read_text())
    other.write_text(json.dumps({**data, "lab": "lab9"}))
    result = run("lab3", "--from-evidence", str(other))
    assert result.exit_code == 2 and "holds evidence for lab9, not lab3" in result.stderr
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    result = run("lab3", "--from-evidence", str(junk))
    assert result.exit_code == 2 and "is not an evidence file of this grader" in result.stderr


def test_one_exercise_only(run):
    result = run("lab3", "--from-evidence", str(FIXTURES / "solved.json"), "--exercise", "snap-live",
                 "--format", "json")
    assert [e["id"] for e in json.loads(result.stdout)["results"][0]["exercises"]] == ["snap-live"]
