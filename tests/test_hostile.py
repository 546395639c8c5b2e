"""Hostile hosts and bad input: one student never costs anyone else their grade, text from a host
is data (never markup or terminal control), nothing runs from a directory we did not make, and
every wrong input is one line with exit status 2 and nothing half-written.

Hosts are libvirt's test driver (a whole host from one XML file), a loopback listener that never
answers, and a fake libvirtd that answers every call with an error text of our choosing."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from classhelp import HungHost, make_class
from grader.cli.main import grade, lab
from grader.reading import connection
from grader.testing import simclass
from grader.testing.loopback import HostileLibvirtd
from toyhelp import run

GRADE = str(Path(sys.executable).with_name("grade"))
LAB_CMD = str(Path(sys.executable).with_name("lab"))
ESCAPES = "\x1b[2J\x1b]8;;https://evil.example/\x07"
#: What XML can carry (XML 1.0 forbids ESC and BEL): C1's CSI, a bidi override, zero-width space.
XML_CONTROLS = "\x9b2J\u202e\u200b"


def no_control(text: str) -> bool:
    return not any(c in text for c in ("\x1b", "\x07", "\x9b", "\u202e"))


def hostile_lab3_host(tmp_path: Path, text: str) -> str:
    """A lab3 host whose disk paths carry `text` (a student names files as they like)."""
    xml = simclass.host_xml("right").replace("/var/lib/libvirt/lab3/lab3-raw.ext-1",
                                             f"/var/lib/libvirt/lab3/{text}")
    path = tmp_path / "hostile.xml"
    path.write_text(xml)
    return f"test://{path}"


# --- text from hosts is data ---------------------------------------------------------------------

@pytest.mark.parametrize("text", ["[/x]", "[link=https://evil.example]click[/link]", XML_CONTROLS + "[bold]x"])
def test_markup_and_escapes_in_a_host_are_shown_as_text_on_the_terminal(tmp_path, text):
    uri = hostile_lab3_host(tmp_path, text)
    status, out, err = run(grade, "lab3", "--host", uri, terminal=True, env={"LAB_LABS_DIR": ""})
    assert (status, err) == (0, ""), err
    assert "ext-1" in out and "lab3-raw" in out
    plain = out.replace("\x1b[", "")               # our own colours are the only escapes
    assert "]8;;" not in out and "\x07" not in out and "\x1b]" not in out
    assert "[/x]" in plain or "[link=" in plain or "\\x9b2J\\u202e\\u200b[bold]x" in plain
    assert no_control(plain)


def test_a_class_with_a_hostile_host_writes_clean_reports(tmp_path):
    uri = hostile_lab3_host(tmp_path, XML_CONTROLS + "[link=x]y[/link]|=cmd")
    roster = simclass.write_roster(tmp_path / "roster.csv", [("ana", uri)])
    status, out, err = run(grade, "lab3", "--roster", roster, "--out", tmp_path / "runs", env={"LAB_LABS_DIR": ""})
    assert status == 0, err
    [rundir] = (tmp_path / "runs").iterdir()
    for path in rundir.rglob("*"):
        if path.is_file() and path.suffix in (".txt", ".md", ".csv", ".html"):
            assert no_control(path.read_text()), path.name
    feedback = (rundir / "feedback" / "ana.md").read_text()
    assert "\\[link=x\\]" in feedback and "\\|=cmd" in feedback and "\\\\x9b2J" in feedback


def test_a_modified_libvirtds_error_text_reaches_the_instructor_as_one_cut_printable_line(tmp_path):
    with HostileLibvirtd(ESCAPES + "[red]boom[/red] " + "x" * 2000) as evil:
        roster = simclass.write_roster(tmp_path / "roster.csv", [("eve", evil.uri())])
        status, out, err = run(grade, "lab3", "--roster", roster, "--out", tmp_path / "runs",
                               env={"LAB_LABS_DIR": ""}, terminal=True)
        single = run(grade, "lab3", "--host", evil.uri(), "--format", "json", env={"LAB_LABS_DIR": ""})
    assert status == 1
    line = next(line for line in out.splitlines() if line.startswith("eve: unreachable"))
    assert "\\x1b[2J" in line and "[red]boom[/red]" in line and no_control(line.replace("\x1b[", "~"))
    assert len(line) < 420 and line.endswith("…")                # libvirt's text cut for reports
    assert no_control(err)
    result = json.loads(single[1])["results"][0]
    assert result["status"] == "unreachable" and len(result["error"]) < 420


# --- one host never aborts a class run ----------------------------------------------------------

def test_a_host_serving_more_than_the_limit_is_that_students_error_and_the_rest_are_graded(tmp_path):
    big = tmp_path / "hosts" / "big.xml"
    big.parent.mkdir()
    big.write_text(simclass.hostile_host_xml(10))
    roster = make_class(tmp_path, ["right", "revert-skipped"], extra={"zed": f"test://{big}"})
    status, out, err = run(grade, "lab3", "--roster", roster, "--format", "json", "--out", tmp_path / "runs",
                           env={"LAB_LABS_DIR": ""})
    assert status == 1, err
    by = {r["student"]: r for r in json.loads(out)["results"]}
    assert [by["s0-right"]["score"], by["s1-revert-skipped"]["score"]] == [10, 7]
    assert by["zed"]["status"] == "error"
    assert "served more than 8 MiB of libvirt XML" in by["zed"]["error"] and "limit for one host" in by["zed"]["error"]
    [rundir] = (tmp_path / "runs").iterdir()
    assert json.loads((rundir / "run.json").read_text())["state"] == "complete"


def test_a_crash_while_processing_one_student_is_that_students_error(tmp_path, monkeypatch):
    from grader.core import scoring

    real = scoring.score

    def flaky(lab_, evidence, *args, **kwargs):
        if evidence.student == "s1-right" and not evidence.errors:
            raise MemoryError("simulated")
        return real(lab_, evidence, *args, **kwargs)

    monkeypatch.setattr("grader.grading.score", flaky)
    roster = make_class(tmp_path, ["right", "right", "untouched"])
    status, out, err = run(grade, "lab3", "--roster", roster, "--format", "json", "--out", tmp_path / "runs",
                           env={"LAB_LABS_DIR": ""})
    by = {r["student"]: r for r in json.loads(out)["results"]}
    assert status == 1 and by["s0-right"]["score"] == 10 and by["s2-untouched"]["score"] == 0
    assert by["s1-right"]["status"] == "error" and "MemoryError: simulated" in by["s1-right"]["error"]


# --- no code execution through /tmp -------------------------------------------------------------

def test_the_ssh_wrapper_lives_in_a_directory_this_process_made(tmp_path):
    trap = Path("/tmp") / f"lab-grader-{os.getuid()}"      # what an attacker would pre-create
    trap.mkdir(exist_ok=True)
    (trap / "ssh-5-2-2").write_text("#!/bin/sh\necho pwned\n")
    limits = connection.Limits()
    wrapper = connection.ssh_wrapper(limits)
    try:
        assert wrapper.parent != trap and not wrapper.is_relative_to(trap)
        info = wrapper.parent.stat()
        assert info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o700
        assert stat.S_IMODE(wrapper.stat().st_mode) == 0o700
        script = wrapper.read_text()
        for option in ("BatchMode=yes", "ForwardAgent=no", "ForwardX11=no", "ClearAllForwardings=yes",
                       "IdentitiesOnly=yes", "ConnectTimeout=5", "ServerAliveInterval=2"):
            assert f"-o {option}" in script
        assert "pwned" not in script
        uri = connection.connect_uri("qemu+ssh://grader@h/system", limits)
        assert uri == f"qemu+ssh://grader@h/system?command={wrapper}"
    finally:
        (trap / "ssh-5-2-2").unlink()
        trap.rmdir()


# --- one student, bounded -----------------------------------------------------------------------

def test_one_student_on_a_host_that_never_answers_is_unreachable_in_the_connect_timeout():
    with HungHost() as hung:
        start = time.monotonic()
        done = subprocess.run([GRADE, "lab3", "--host", f"qemu+tcp://127.0.0.1:{hung.port}/system",
                               "--connect-timeout", "1", "--format", "json"],
                              capture_output=True, text=True, timeout=30)
        took = time.monotonic() - start
    assert done.returncode == 1 and took < 6, done.stderr
    result = json.loads(done.stdout)["results"][0]
    assert result["status"] == "unreachable" and "within 1 s of connecting" in result["error"]


@pytest.mark.parametrize("argv", [
    [GRADE, "lab3", "--host", "{uri}", "--connect-timeout", "60", "--timeout", "60"],
    [LAB_CMD, "start", "lab3", "--host", "{uri}"],
])
def test_ctrl_c_stops_at_once_with_one_line(argv):
    with HungHost() as hung:
        uri = f"qemu+tcp://127.0.0.1:{hung.port}/system"
        proc = subprocess.Popen([a.format(uri=uri) for a in argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        out, err = proc.communicate(timeout=10)
    assert time.monotonic() - start < 2
    assert proc.returncode == 130 and err == "interrupted\n", err


def test_lab_start_on_a_host_that_never_answers_fails_in_the_connect_timeout():
    with HungHost() as hung:
        start = time.monotonic()
        done = subprocess.run([LAB_CMD, "start", "lab3", "--host", f"qemu+tcp://127.0.0.1:{hung.port}/system"],
                              capture_output=True, text=True, timeout=30)
    assert time.monotonic() - start < 8
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "no answer from qemu+tcp://127.0.0.1" in done.stderr and "connect timeout" in done.stderr


# --- --retry-unreachable after an interrupted run -----------------------------------------------

def test_a_retry_after_an_interrupted_run_grades_those_it_never_reached(tmp_path):
    from grader.classroom import archive

    roster = make_class(tmp_path, ["right", "untouched", "no-external"])
    runs = tmp_path / "runs"
    status, out, _ = run(grade, "lab3", "--roster", roster, "--format", "json", "--out", runs, env={"LAB_LABS_DIR": ""})
    [first] = runs.iterdir()
    meta = json.loads((first / "run.json").read_text())
    (first / "run.json").write_text(json.dumps({**meta, "state": "interrupted"}))
    for name in ("s1-untouched", "s2-no-external"):      # Ctrl-C came before these two
        (first / "results" / f"{name}.json").unlink()
        (first / "evidence" / f"{name}.json").unlink()
    status, out, err = run(grade, "lab3", "--roster", roster, "--retry-unreachable", "--format", "json",
                           "--out", runs, env={"LAB_LABS_DIR": ""})
    assert status == 0, err
    assert [(r["student"], r["score"]) for r in json.loads(out)["results"]] == [
        ("s0-right", 10), ("s1-untouched", 0), ("s2-no-external", 8)]
    assert "retried 2 (2 never reached by the last run), kept 1" in err
    assert archive.latest(runs, "lab3").meta()["retry_of"] == str(first)


# --- bad input: one line, exit 2, nothing half-written ------------------------------------------

@pytest.mark.parametrize("name, roster_text, problem", [
    ("class.yml", 'all:\n  hosts:\n    pc1: {student: "ana\\n", role: A, libvirt_uri: "test:///default"}\n',
     "must start with a letter or digit and hold only"),
    ("class.csv", "student,A\n=HYPERLINK(1),test:///default\n", "must start with a letter or digit"),
    ("class.csv", "student,A\nAna,test:///default\nana,test:///default\n", "differ only by case"),
    ("class.csv", "student,A\nana," + "x" * 140_000 + "\n", "not readable as CSV (field larger than field limit"),
])
def test_roster_mistakes_are_reported_and_nobody_is_graded(tmp_path, name, roster_text, problem):
    roster = tmp_path / name
    roster.write_text(roster_text)
    status, out, err = run(grade, "lab3", "--roster", roster, "--out", tmp_path / "runs",
                           env={"LAB_LABS_DIR": ""})
    assert status == 2 and problem in err and "nothing was graded" in err
    assert not (tmp_path / "runs").exists()


def test_yaml_aliases_that_expand_without_bound_are_refused(tmp_path):
    laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        laughs.append(f"{'abcdefghij'[i]}: &{'abcdefghij'[i]} [" + ", ".join(f"*{'abcdefghij'[i - 1]}" for _ in range(10)) + "]")
    path = tmp_path / "inventory.yml"
    path.write_text("\n".join(laughs) + "\nall:\n  hosts:\n    pc1: {student: ana, role: A}\n")
    start = time.monotonic()
    status, _, err = run(grade, "lab3", "--roster", path, "--out", tmp_path / "runs", env={"LAB_LABS_DIR": ""})
    assert time.monotonic() - start < 2
    assert status == 2 and "expand to more than 100000 values" in err


@pytest.mark.parametrize("toml, problem", [
    ("timeout = 0\n", "timeout = 0 is out of range"),
    ("timeout = -5\n", "timeout = -5 is out of range"),
    ("jobs = 0\n", "jobs = 0 is out of range"),
    ('lang = "fr"\n', "lang = 'fr': use one of en, es"),
])
def test_course_toml_values_out_of_range_are_one_line(tmp_path, toml, problem):
    (tmp_path / "course.toml").write_text(toml)
    status, _, err = run(grade, "lab3", "--host", "test:///default", cwd=tmp_path, env={"LAB_LABS_DIR": ""})
    assert status == 2 and problem in err and err.count("\n") == 1


def test_out_under_a_regular_file_is_one_line_and_nothing_is_written(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    roster = make_class(tmp_path, ["right"])
    status, _, err = run(grade, "lab3", "--roster", roster, "--out", tmp_path / "file" / "runs",
                         env={"LAB_LABS_DIR": ""})
    assert status == 2 and err.count("\n") == 1 and "a file of that name is in the way" in err
    assert (tmp_path / "file").read_text() == "not a folder"


def test_a_run_folder_without_evidence_is_a_usage_error(tmp_path):
    (tmp_path / "run" / "evidence").mkdir(parents=True)
    status, out, err = run(grade, "lab3", "--from-evidence", tmp_path / "run", env={"LAB_LABS_DIR": ""})
    assert (status, out) == (2, "") and "holds no evidence files" in err


@pytest.mark.parametrize("document", [[], {"lab": "lab3", "student": "s", "hosts": []},
                                      {"lab": "lab3", "student": "s", "hosts": {"A": {"uri": "u", "domains": []}}}])
def test_evidence_json_of_the_wrong_shape_is_one_line(tmp_path, document):
    path = tmp_path / "ev.json"
    path.write_text(json.dumps(document))
    status, out, err = run(grade, "lab3", "--from-evidence", path, env={"LAB_LABS_DIR": ""})
    assert (status, out) == (2, "") and "is not an evidence file of this grader" in err and err.count("\n") == 1


def test_a_gradebook_error_after_grading_prints_the_report_keeps_the_run_and_says_so(tmp_path):
    roster = make_class(tmp_path, ["right"])
    status, out, err = run(grade, "lab3", "--roster", roster, "--format", "json", "--out", tmp_path / "runs",
                           "--gradebook", tmp_path / "no" / "such" / "dir" / "gradebook.db", env={"LAB_LABS_DIR": ""})
    assert status == 2
    assert json.loads(out)["results"][0]["score"] == 10                 # the report was printed
    [rundir] = (tmp_path / "runs").iterdir()
    assert json.loads((rundir / "run.json").read_text())["state"] == "complete"
    assert (rundir / "results.json").is_file()
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert "the gradebook was not written" in line and str(rundir) in line


def test_a_lab_id_is_a_name_never_a_path():
    status, _, err = run(lab, "start", "../../etc", "--host", "test:///default", env={"LAB_LABS_DIR": ""})
    assert status == 2 and "unknown lab '../../etc'" in err
