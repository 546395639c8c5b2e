"""Grading a class in parallel, bounded in time: many simulated hosts (libvirt's test driver,
one node XML file each), a host that accepts and never answers, one that refuses; and the
`grade --roster` command as an instructor runs it."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from classhelp import HungHost, make_class, simclass
from grader.classroom import roster
from grader.core import labdef
from grader import grading
from grader.reading import connection
from grader.cli.main import grade
from grader.errors import UsageError

LAB = labdef.load("lab3")


@pytest.fixture
def hung():
    host = HungHost()
    yield host
    host.close()


def entries(path):
    return roster.load(path, LAB.roles).entries


def test_every_student_of_a_class_gets_the_score_of_their_state(tmp_path):
    states = [simclass.state_of(i) for i in range(28)]
    seen = []
    results = grading.grade_many(LAB, entries(make_class(tmp_path, states)), connection.Limits(jobs=8),
                                   on_graded=lambda r, ev: seen.append((r.student, ev.student)) or r)
    assert [r.student for r in results] == [f"s{i}-{s}" for i, s in enumerate(states)]  # roster order
    assert [r.score for r in results] == [simclass.STATES[s] for s in states]
    assert {r.status for r in results} == {"graded"}
    assert sorted(seen) == sorted((r.student, r.student) for r in results)


def test_a_hung_host_is_abandoned_at_the_connect_timeout_and_the_rest_are_graded(tmp_path, hung):
    path = make_class(tmp_path, ["right", "untouched"], extra={"zed": hung.uri()})
    start = time.monotonic()
    results = grading.grade_many(LAB, entries(path), connection.Limits(timeout=10, connect_timeout=1))
    took = time.monotonic() - start
    assert took < 2.5
    by = {r.student: r for r in results}
    assert by["zed"].status == "unreachable"
    assert "no answer from test+tcp://127.0.0.1" in by["zed"].error
    assert "within 1 s of connecting" in by["zed"].error
    assert [by["s0-right"].score, by["s1-untouched"].score] == [10, 0]


def test_the_whole_host_deadline_bounds_a_host_too(tmp_path, hung):
    path = make_class(tmp_path, ["right"], extra={"zed": hung.uri()})
    start = time.monotonic()
    results = grading.grade_many(LAB, entries(path), connection.Limits(timeout=0.5, connect_timeout=5))
    assert time.monotonic() - start < 1.5
    assert results[1].status == "unreachable" and "0.5 s" in results[1].error


def test_a_refused_connection_is_unreachable_with_libvirts_reason(tmp_path):
    path = make_class(tmp_path, ["right"], extra={"off": "test+tcp://127.0.0.1:1/x.xml"})
    results = grading.grade_many(LAB, entries(path))
    assert results[1].status == "unreachable"
    assert "Connection refused" in results[1].error


def test_ssh_uris_get_timeouts_and_no_prompts(tmp_path):
    limits = connection.Limits(connect_timeout=4, keepalive_interval=3, keepalive_count=2)
    wrapper = connection.ssh_wrapper(limits, tmp_path)
    script = wrapper.read_text()
    assert "-o ConnectTimeout=4 -o ServerAliveInterval=3 -o ServerAliveCountMax=2 -o BatchMode=yes" in script
    uri = connection.connect_uri("qemu+ssh://root@10.0.0.11/system", limits, wrapper)
    assert uri == f"qemu+ssh://root@10.0.0.11/system?command={wrapper}"
    ro = "qemu+ssh://grader@h/system?socket=/var/run/libvirt/libvirt-sock-ro"
    assert connection.connect_uri(ro, limits, wrapper) == f"{ro}&command={wrapper}"
    pinned = connection.connect_uri("qemu+ssh://h/system?known_hosts=/course/known_hosts", limits)
    assert "-o UserKnownHostsFile=/course/known_hosts -o StrictHostKeyChecking=yes" in \
        Path(pinned.rpartition("command=")[2]).read_text()
    for mine in ("qemu+ssh://h/system?command=/usr/local/bin/myssh", "qemu+ext:///system?command=/bin/x",
                 "qemu+ssh://h/system?no_verify=1"):
        with pytest.raises(UsageError, match="is refused: .*(runs a program|check off)"):
            connection.connect_uri(mine, limits, wrapper)           # a URI's own program never runs
    assert connection.connect_uri("qemu+tcp://h/system", limits, wrapper) == "qemu+tcp://h/system"


def run_cli(*args):
    return CliRunner(env={"COLUMNS": "200"}).invoke(grade, list(args), catch_exceptions=False)


def test_grade_roster_prints_a_summary_and_exits_1_when_a_host_was_not_graded(tmp_path, hung):
    path = make_class(tmp_path, ["right", "clean-running"], extra={"zed": hung.uri()})
    result = run_cli("lab3", "--roster", str(path), "--connect-timeout", "0.5", "--out", str(tmp_path / "runs"))
    assert result.exit_code == 1
    out = result.stdout
    assert "snap-offline" in out and "s0-right" in out and "s1-clean-running" in out
    assert "zed: unreachable: host A: no answer from" in out
    assert "2 of 3 graded" in out
    assert "[3/3]" in result.stderr or "[2/3]" in result.stderr  # plain progress lines (no terminal)
    assert "lab3: 2 graded, 1 unreachable" in result.stderr


def test_grade_roster_json_keeps_the_documented_shape(tmp_path):
    path = make_class(tmp_path, ["right", "revert-skipped"])
    result = run_cli("lab3", "--roster", str(path), "--format", "json", "--out", str(tmp_path / "runs"))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["lab"], data["max_score"]) == ("lab3", 10)
    assert [r["score"] for r in data["results"]] == [10, 7]
    first = data["results"][0]
    assert {"student", "hosts", "status", "error", "score", "exercises"} <= set(first)
    assert {"id", "score", "max_score", "feedback"} <= set(first["exercises"][0])


def test_only_grades_the_named_students(tmp_path):
    path = make_class(tmp_path, ["right", "untouched", "no-external"])
    result = run_cli("lab3", "--roster", str(path), "--only", "s2-no-external,s0-right", "--format", "json",
                     "--out", str(tmp_path / "runs"))
    assert [r["student"] for r in json.loads(result.stdout)["results"]] == ["s0-right", "s2-no-external"]
    result = run_cli("lab3", "--roster", str(path), "--only", "nobody", "--out", str(tmp_path / "runs"))
    assert result.exit_code == 2 and "not in the roster" in result.stderr and "nobody" in result.stderr


def test_a_bare_grade_inside_a_course_directory_uses_its_roster(tmp_path, monkeypatch):
    make_class(tmp_path, ["right"])
    (tmp_path / "course.toml").write_text('roster = "roster.csv"\nruns = "archive"\nlang = "es"\n')
    sub = tmp_path / "week3"
    sub.mkdir()
    monkeypatch.chdir(sub)
    result = run_cli("lab3", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["lang"] == "es" and data["results"][0]["student"] == "s0-right"
    assert len(list((tmp_path / "archive").iterdir())) == 1


@pytest.mark.labhost
@pytest.mark.parametrize("limits, reason", [
    # keepalive alone: the event loop's probes go unanswered and libvirt drops the connection
    (connection.Limits(timeout=60, keepalive_interval=1, keepalive_count=1), "stopped answering"),
    # the whole-host deadline, before keepalive would notice
    (connection.Limits(timeout=2, keepalive_interval=5, keepalive_count=5), "within 2 s (--timeout)"),
])
def test_a_host_that_hangs_half_way_through_reading_is_abandoned_in_time(labhosts, tmp_path, limits, reason):
    from classhelp import StallingProxy
    from grader.labhosts.config import Settings

    # lab host a's own unix socket: the proxy counts RPC messages, which TLS would hide
    socket_a = Settings.from_env().host_dir("a") / "run" / "libvirt-sock"
    proxy = StallingProxy(socket_a, answers=5)   # enough to open the connection, not to read it
    try:
        path = make_class(tmp_path, ["right"], extra={"stall": proxy.uri()})
        start = time.monotonic()
        results = grading.grade_many(LAB, entries(path), limits)
        took = time.monotonic() - start
    finally:
        proxy.close()
    by = {r.student: r for r in results}
    assert by["s0-right"].score == 10                 # everyone else is graded
    assert by["stall"].status == "unreachable", by["stall"].error
    assert reason in by["stall"].error
    assert took < 8
