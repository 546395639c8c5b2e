"""`grade` on the command line: exit statuses 0/1/2, the documented JSON shape, one-line errors,
--from-evidence giving the identical result, and an injected labs folder (LAB_LABS_DIR); on the
engine's toy lab, with libvirt's test driver playing the host."""
from __future__ import annotations

import json

import pytest

from grader.cli.main import grade, lab
from toyhelp import LABS_DIR, host, run


def test_json_shape_of_a_graded_student():
    status, out, _ = run(grade, "toy", "--host", host("right"), "--format", "json")
    assert status == 0
    data = json.loads(out)
    assert {"lab": "toy", "max_score": 5, "lang": "en"}.items() <= data.items()
    [student] = data["results"]
    assert {"student", "hosts", "status", "error", "score", "exercises"} <= set(student)
    assert (student["student"], student["status"], student["error"], student["score"]) == ("local", "graded", None, 5)
    assert student["hosts"] == {"A": host("right")}
    assert [e["id"] for e in student["exercises"]] == ["pool-on", "vm-snap"]
    for ex in student["exercises"]:
        assert ex["score"] == ex["max_score"] and ex["feedback"].startswith("Good")


def test_table_shows_every_exercise_the_feedback_and_the_total_in_the_reader_language():
    status, out, _ = run(grade, "toy", "--host", host("untouched"), "--lang", "es")
    assert status == 0
    for text in ("pool-on", "vm-snap", "Total", "Comentarios", "No hay ningún grupo 'toy-pool'."):
        assert text in out
    assert "\x1b[" not in out                       # not a terminal: no colour codes
    _, coloured, _ = run(grade, "toy", "--host", host("untouched"), terminal=True)
    assert "\x1b[" in coloured


def test_live_grade_and_from_evidence_are_identical(tmp_path):
    saved = tmp_path / "ev.json"
    live = run(grade, "toy", "--host", host("recreated"), "--save-evidence", saved, "--format", "json")
    offline = run(grade, "toy", "--from-evidence", saved, "--format", "json")
    assert live[0] == offline[0] == 0
    assert json.loads(live[1]) == json.loads(offline[1])
    assert json.loads(live[1])["results"][0]["score"] == 2


def test_unreachable_host_exits_1_with_a_result():
    status, out, _ = run(grade, "toy", "--host", "qemu+tcp://127.0.0.1:1/system", "--format", "json")
    assert status == 1
    [student] = json.loads(out)["results"]
    assert student["status"] == "unreachable" and student["score"] is None
    assert student["error"].startswith("host A: cannot connect to qemu+tcp://127.0.0.1:1/system")


def test_default_host_comes_from_the_environment_object():
    status, out, _ = run(grade, "toy", "--format", "json", env={"LIBVIRT_DEFAULT_URI": host("right")})
    assert status == 0 and json.loads(out)["results"][0]["hosts"] == {"A": host("right")}


@pytest.mark.parametrize("args,message", [
    (["lab99"], "error: unknown lab 'lab99': use one of toy"),
    (["toy", "--exercise", "nope", "--host", "test:///default"], "error: lab toy has no exercise 'nope'"),
    (["toy", "--host", "qemu:/oops"], "error: malformed libvirt URI 'qemu:/oops'"),
    (["toy", "--host", "B=test:///default"], "error: this lab has no role B"),
    (["toy", "--from-evidence", "/nonexistent/ev.json"], "error: no evidence file at /nonexistent/ev.json"),
    (["toy", "--jobs", "3"], "error: --jobs grades a class: add --roster FILE"),
])
def test_usage_errors_exit_2_with_one_line(args, message):
    status, out, err = run(grade, *args)
    assert status == 2
    assert err.startswith(message) and err.count("\n") == 1
    assert "Traceback" not in out + err


def test_an_unknown_labs_folder_is_a_usage_error(tmp_path):
    status, _, err = run(grade, "toy", env={"LAB_LABS_DIR": str(tmp_path / "none")})
    assert status == 2 and "LAB_LABS_DIR" in err and err.count("\n") == 1


def test_evidence_of_another_lab_or_not_evidence_at_all(tmp_path):
    saved = tmp_path / "ev.json"
    run(grade, "toy", "--host", host("right"), "--save-evidence", saved)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**json.loads(saved.read_text()), "lab": "lab9"}))
    status, _, err = run(grade, "toy", "--from-evidence", other)
    assert status == 2 and "holds evidence for lab9, not toy" in err
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    status, _, err = run(grade, "toy", "--from-evidence", junk)
    assert status == 2 and "is not an evidence file of this grader" in err


def test_one_exercise_only():
    _, out, _ = run(grade, "toy", "--host", host("right"), "--exercise", "vm-snap", "--format", "json")
    assert [e["id"] for e in json.loads(out)["results"][0]["exercises"]] == ["vm-snap"]


def test_a_lab_declares_its_own_start_options(tmp_path):
    status, out, err = run(lab, "start", "toy", "--host", "test:///default", "--size", "32")
    assert (status, err) == (0, "") and out == "toy is ready on A=test:///default\n"
    status, _, err = run(lab, "start", "toy", "--host", "test:///default", "--color", "red")
    assert status == 2 and "'--color' is not an option of `lab start toy` (its options: --size MIB)" in err
    status, _, err = run(lab, "start", "toy", "--host", "test:///default", "--size")
    assert status == 2 and "--size needs a value" in err
    assert (LABS_DIR / "toy" / "lab.toml").is_file()
