"""Events seen by `grade --watch` on real light lab hosts (issue 18, item 4): a student starts a
domain, solves lab4 with its reference solution (a cold move, B's shared pool defined and
started, a live migration) while the class is watched; what libvirt told the watch lands in
timeline.json under the student and, where the lab says it explains an exercise, in the class
report. A host that floods the watch with events is capped and the watch goes on."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import libvirt
import pytest
from click.testing import CliRunner

from grader.cli.main import lab
from labs.lab3.names import POOL as LAB3_POOL
from labs.lab3.names import VM as LAB3_VM
from labs.lab4 import solution
from labs.lab4.names import COLD, LIVE, SHARED_POOL

pytestmark = pytest.mark.labhost

GRADE = str(Path(sys.executable).with_name("grade"))


def watch(roster: Path, run_dir: Path, lab_id: str, interval: str = "1") -> subprocess.Popen:
    return subprocess.Popen([GRADE, lab_id, "--roster", str(roster), "--watch", "--interval", interval,
                             "--run-dir", str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={"PATH": "/usr/bin:/bin", "LANG": "C"})


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=60)


def lab_command(*args) -> None:
    result = CliRunner().invoke(lab, list(args))
    assert result.exit_code == 0, result.output


def seen(run_dir: Path, student: str) -> list[tuple]:
    timeline = json.loads((run_dir / "timeline.json").read_text())
    return [(e["role"], e["kind"], e["object"], e["event"], e["detail"])
            for e in timeline["events"].get(student, {}).get("seen", [])]


def test_a_watch_records_what_the_student_did_and_the_report_explains_lab4_with_it(labhosts, tmp_path, monkeypatch):
    env = labhosts.env
    uri_a, uri_b = env["LAB_URI_A"], env["LAB_URI_B"]
    share = f"{env['LAB_SHARE_FORMAT']}://{env['LAB_SHARE_HOST']}{env['LAB_SHARE_PATH']}"
    for name in ("LAB_MIGRATE_FLAGS", "LAB_MIGRATION_HOST"):
        if name in env:
            monkeypatch.setenv(name, env[name])
    lab_command("start", "lab4", "--host", f"A={uri_a}", "--host", f"B={uri_b}", "--share", share)
    roster = tmp_path / "roster.csv"
    roster.write_text(f"student,A,B,name\nana,{uri_a},{uri_b},Ana García\n")
    proc = watch(roster, tmp_path / "run", "lab4")
    try:
        time.sleep(3)                                  # the first poll opened and subscribed both hosts
        a, b = libvirt.open(uri_a), libvirt.open(uri_b)
        try:
            a.lookupByName(COLD).create()              # the student starts a domain...
            time.sleep(0.5)
            solution.cold_migrate(a, b)                # ...and solves lab4
            solution.shared_pool(a, b)
            solution.live_migrate(a, b)
        finally:
            a.close()
            b.close()
        time.sleep(3)
    finally:
        out, err = stop(proc)
        lab_command("finish", "lab4", "--host", f"A={uri_a}", "--host", f"B={uri_b}")
    assert proc.returncode == 0, err
    run = tmp_path / "run"
    results = json.loads((run / "results.json").read_text())["results"][0]
    assert {e["id"]: e["score"] for e in results["exercises"]} == {"cold-migrate": 4, "shared-pool": 2, "live-migrate": 4}
    events = seen(run, "ana")
    for expected in [("A", "domain", COLD, "started", "booted"), ("A", "domain", COLD, "stopped", "destroyed"),
                     ("B", "domain", COLD, "defined", "added"), ("A", "domain", COLD, "undefined", "removed"),
                     ("B", "pool", SHARED_POOL, "defined", ""), ("B", "pool", SHARED_POOL, "started", ""),
                     ("B", "domain", LIVE, "started", "migrated"), ("B", "domain", LIVE, "resumed", "migrated"),
                     ("A", "domain", LIVE, "stopped", "migrated"), ("A", "domain", LIVE, "job-completed", "migration-out")]:
        assert expected in events, (expected, events)
    assert all(kind != "domain" or name in (COLD, LIVE) for _, kind, name, _, _ in events)   # lab4's scope
    report = (run / "report.html").read_text()
    assert "Ana García" in report
    section = report.split('id="s-1"')[1]

    def seen_in(exercise: str) -> str:
        row = next(row for row in section.split("<tr>") if f"<code>{exercise}</code>" in row)
        return row.partition('<div class="seen">')[2]

    assert "lab4-live: migrated A → B live at" in seen_in("live-migrate")
    assert "lab4-cold on A: started (booted) at" in seen_in("cold-migrate")
    assert "lab4-cold on B: defined (added) at" in seen_in("cold-migrate")
    assert "lab4-shared on B: started at" in seen_in("shared-pool") and "lab4-live" not in seen_in("shared-pool")


def test_a_host_that_floods_the_watch_is_capped_and_the_others_are_still_heard(labhosts, tmp_path):
    uri_a, uri_b = labhosts.uri("a"), labhosts.uri("b")
    for uri in (uri_a, uri_b):
        lab_command("start", "lab3", "--host", uri)
    roster = tmp_path / "roster.csv"
    roster.write_text(f"student,A\nana,{uri_a}\nben,{uri_b}\n")
    proc = watch(roster, tmp_path / "run", "lab3", interval="10")
    try:
        time.sleep(3)
        a, b = libvirt.open(uri_a), libvirt.open(uri_b)
        try:
            pool = a.storagePoolLookupByName(LAB3_POOL)
            for _ in range(1500):                        # ana's host: 1500 refreshes, back to back
                pool.refresh(0)
            b.lookupByName(LAB3_VM).create()             # ben's host meanwhile: one domain started
            time.sleep(11)                               # one more poll
        finally:
            a.close()
            b.close()
    finally:
        out, err = stop(proc)
        for uri in (uri_a, uri_b):
            lab_command("finish", "lab3", "--host", uri)
    assert proc.returncode == 0, err
    run = tmp_path / "run"
    timeline = json.loads((run / "timeline.json").read_text())
    ana = timeline["events"]["ana"]
    refreshes = [e for e in ana["seen"] if e["event"] == "refreshed"]
    heard = sum(e.get("count", 1) for e in refreshes)
    assert len(refreshes) == 1                          # a repeat is one record with a count
    assert ana["dropped"] > 0 and 0 < heard < 1500 and heard + ana["dropped"] <= 1500   # capped, counted
    assert ("A", "domain", LAB3_VM, "started", "booted") in seen(run, "ben")             # others still heard
    assert timeline["polls"] >= 2
    assert "more events from these hosts were not kept" in (run / "report.html").read_text()
