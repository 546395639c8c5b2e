"""`grade --watch`: the class live, read-only, until Ctrl-C or SIGTERM; the timeline it keeps, the
run directory it writes on stop, the board on a terminal, one line per change off it, and hosts
that go away and come back (reconnected)."""
from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from classhelp import HungHost
from grader.cli.environment import Environment
from grader.cli.main import grade
from grader.core.results import GRADED, UNREACHABLE, ExerciseResult, StudentResult
from grader.core.timeline import Timeline
from grader.testing import simclass
from grader.testing.loopback import Relay
from toyhelp import LABS_DIR, host

GRADE = str(Path(sys.executable).with_name("grade"))
T0 = 1_700_000_000


def result(student: str, *scores, status: str = GRADED) -> StudentResult:
    exercises = [ExerciseResult(ex, score, points, "", []) for (ex, points), score in
                 zip((("pool-on", 2), ("vm-snap", 3)), scores)]
    return StudentResult(student, {}, status, None, sum(scores) if status == GRADED else None, 5, exercises)


# --- the timeline -------------------------------------------------------------------------------

def test_the_timeline_records_passes_regressions_and_changes():
    timeline = Timeline(["ana", "ben"], ["pool-on", "vm-snap"], T0)
    assert timeline.update([result("ana", 0, 0), result("ben", 0, 0)], T0) == []  # nothing done: no news
    changes = timeline.update([result("ana", 2, 0), result("ben", 1, 0)], T0 + 60)
    assert [(c.student, c.what, c.old, c.new) for c in changes] == [
        ("ana", "pool-on", "failed", "passed"), ("ben", "pool-on", "failed", "partial")]
    changes = timeline.update([result("ana", 0, 3), result("ben", 0, 0, status=UNREACHABLE)], T0 + 120)
    assert [(c.student, c.what, c.old, c.new) for c in changes] == [
        ("ana", "pool-on", "passed", "failed"), ("ana", "vm-snap", "failed", "passed"),
        ("ben", "host", "graded", "unreachable")]
    data = timeline.to_dict()
    assert set(data) == {"started", "polls", "students", "events"} and data["polls"] == 3
    assert data["events"] == {}                                          # none recorded: none kept
    ana = data["students"]["ana"]
    assert ana["pool-on"] == {"first_passed": iso(T0 + 60), "last_change": iso(T0 + 120), "regressed": True}
    assert ana["vm-snap"] == {"first_passed": iso(T0 + 120), "last_change": iso(T0 + 120), "regressed": False}
    assert data["students"]["ben"]["pool-on"]["first_passed"] is None
    assert datetime.fromisoformat(data["started"]).tzinfo is not None           # ISO 8601 with a zone
    assert timeline.passed_counts() == {"pool-on": 0, "vm-snap": 1}
    assert timeline.idle("ben", T0 + 600) == 540 and timeline.idle("ana", T0 + 600) == 480
    assert "2023-11-14" in changes[0].line() and "ana pool-on: passed → failed" in changes[0].line()


def test_what_the_report_draws_from_a_timeline():
    timeline = Timeline(["ana", "ben", "eve"], ["pool-on", "vm-snap"], T0)
    timeline.update([result("ana", 2, 0), result("ben", 0, 0), result("eve", 0, 0)], T0 + 60)
    timeline.update([result("ana", 2, 3), result("ben", 2, 0), result("eve", 0, 0)], T0 + 600)
    timeline.update([result("ana", 2, 3), result("ben", 2, 3), result("eve", 2, 0)], T0 + 720)
    assert timeline.cumulative("pool-on") == [T0 + 60, T0 + 600, T0 + 720]
    assert timeline.median_time_to_pass("pool-on") == 600 and timeline.median_time_to_pass("vm-snap") == 660
    assert timeline.longest() == ("pool-on", 2)   # ben and eve spent longest on pool-on; ana on vm-snap
    again = Timeline.from_dict(json.loads(json.dumps(timeline.to_dict())))
    assert again.cumulative("vm-snap") == timeline.cumulative("vm-snap") and again.longest() == ("pool-on", 2)


def iso(at: float) -> str:
    return datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")


# --- the command ----------------------------------------------------------------------------------

def watch_process(*args, env=None, cwd=None):
    return subprocess.Popen([GRADE, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd, env={"PATH": "/usr/bin:/bin", "LAB_LABS_DIR": str(LABS_DIR), "LANG": "C",
                                            **(env or {})})


def test_a_watched_class_is_archived_on_sigterm_with_its_timeline(tmp_path):
    with HungHost() as hung:
        roster = simclass.write_roster(tmp_path / "roster.csv", [
            ("ana", host("right")), ("ben", host("untouched")), ("zed", f"qemu+tcp://127.0.0.1:{hung.port}/system")])
        proc = watch_process("toy", "--roster", roster, "--watch", "--interval", "1", "--connect-timeout", "0.5",
                             "--run-dir", tmp_path / "run")
        time.sleep(3.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, err                    # zed was never reached
    assert [line.split(" ", 1)[1] for line in out.splitlines()] == [       # the first poll's states
        "ana pool-on: new → passed", "ana vm-snap: new → passed", "zed host: new → unreachable"]
    assert "toy: watched" in err and "2 graded, 1 unreachable" in err and "run archived in" in err
    run = tmp_path / "run"
    meta = json.loads((run / "run.json").read_text())
    assert meta["state"] == "complete" and meta["polls"] >= 2
    results = {r["student"]: r for r in json.loads((run / "results.json").read_text())["results"]}
    assert (results["ana"]["score"], results["ben"]["score"], results["zed"]["status"]) == (5, 0, "unreachable")
    timeline = json.loads((run / "timeline.json").read_text())
    assert timeline["polls"] == meta["polls"] and timeline["students"]["ana"]["vm-snap"]["first_passed"]
    assert timeline["students"]["ben"]["vm-snap"]["first_passed"] is None
    assert (run / "evidence" / "ana.json").is_file() and (run / "feedback" / "zed.md").is_file()
    assert 'id="session"' in (run / "report.html").read_text()     # the timeline in the class report


def test_one_student_watches_their_own_progress_until_sigterm(tmp_path):
    """Self-study: no roster, one host, one line per change (a failing exercise is no news);
    nothing is archived."""
    proc = watch_process("toy", "--host", host("right"), "--watch", "--interval", "1", cwd=tmp_path)
    time.sleep(2.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    lines = [line.split(" ", 1) for line in out.splitlines()]
    assert [text for _, text in lines] == ["local pool-on: new → passed", "local vm-snap: new → passed"]
    assert all(datetime.fromisoformat(at).tzinfo is not None for at, _ in lines)
    assert "run archived" not in err and not list(tmp_path.iterdir())


def test_a_watch_on_a_terminal_shows_the_board(tmp_path, monkeypatch):
    roster = simclass.write_roster(tmp_path / "roster.csv", [("ana", host("right")), ("ben", host("untouched"))])
    out, err = io.StringIO(), io.StringIO()
    env = Environment({"LAB_LABS_DIR": str(LABS_DIR), "LANG": "C"}, tmp_path, out, err, True, False, 120)
    main = threading.main_thread().ident
    threading.Timer(2.5, lambda: signal.pthread_kill(main, signal.SIGINT)).start()
    from click.testing import CliRunner
    result = CliRunner().invoke(grade, ["toy", "--roster", str(roster), "--watch", "--interval", "1",
                                        "--anonymous", "--out", str(tmp_path / "runs")], obj=env)
    assert result.exit_code == 0, err.getvalue()
    board = out.getvalue()
    assert "toy — watching, poll" in board and "Ctrl-C" in board
    assert "#1" in board and "#2" in board and "ana" not in board and "ben" not in board   # anonymous
    assert "✔" in board and "passed" in board and "1/2" in board    # one of two passed each
    assert "\x1b[" in board                                           # a terminal: colour


def test_watch_takes_no_format_and_its_options_need_watch(tmp_path):
    from toyhelp import run
    status, _, err = run(grade, "toy", "--host", host("right"), "--watch", "--format", "json")
    assert status == 2 and "--watch reads hosts live" in err
    status, _, err = run(grade, "toy", "--host", host("right"), "--serve", "8080")
    assert status == 2 and "--serve goes with --watch" in err
    status, _, err = run(grade, "toy", "--host", host("right"), "--watch", "--interval", "0.1")
    assert status == 2 and "poll at most once a second" in err


@pytest.mark.labhost
def test_the_watch_follows_a_student_working_with_virsh_and_a_host_that_comes_back(labhosts, tmp_path):
    uri = labhosts.uri("a")
    subprocess.run([Path(GRADE).with_name("lab"), "start", "lab3", "--host", uri], check=True, capture_output=True)
    try:
        with Relay(uri) as relay:
            roster = simclass.write_roster(tmp_path / "roster.csv", [("ana", uri), ("bob", relay.uri())])
            proc = watch_process("lab3", "--roster", roster, "--watch", "--interval", "1", "--connect-timeout", "1",
                                 "--run-dir", tmp_path / "run", env={"LAB_LABS_DIR": ""})
            time.sleep(2.5)
            subprocess.run(["virsh", "-q", "-c", uri, "snapshot-create-as", "lab3-vm", "clean"], check=True)
            time.sleep(2.5)
            relay.cut()                                  # bob's host goes away...
            time.sleep(8)                                # keepalive drops the kept connection
            relay.restore()                              # ...and comes back
            time.sleep(3)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
    finally:
        subprocess.run([Path(GRADE).with_name("lab"), "finish", "lab3", "--host", uri], capture_output=True)
    lines = out.splitlines()
    assert any(line.endswith("ana snap-offline: failed → passed") for line in lines), out
    assert any(line.endswith("bob snap-offline: failed → passed") for line in lines), out   # the same host
    assert any("bob host: graded → unreachable" in line for line in lines), out
    assert any("bob host: unreachable → graded" in line for line in lines), out              # reconnected
    assert proc.returncode == 0, err
    timeline = json.loads((tmp_path / "run" / "timeline.json").read_text())
    assert timeline["students"]["ana"]["snap-offline"]["first_passed"] is not None
