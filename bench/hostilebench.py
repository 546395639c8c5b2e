#!/usr/bin/env python3
"""Benchmark: a class of 200 simulated lab3 hosts with one hostile host serving 50 MB (issue 11).

    .venv/bin/python bench/hostilebench.py [--hosts 200] [--megabytes 50] [--grade PATH]

One private libvirtd (test driver only, loopback, its own mount namespace; grader.testing.loopback)
serves every host. In the same run it times `grade lab3 --roster` as a whole process, and reads
its peak memory, for the class without the hostile host (the baseline) and with it, and checks
that every honest student is graded with the score of their state while the hostile one gets a
one-line error naming the limit. The hostile host's 50 MB come as 50 snapshots of lab3-vm, each
with a 1 MiB description (libvirt sends one string of at most 4 MiB).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.testing import simclass
from grader.testing.loopback import PrivateLibvirtd

ROOT = Path(__file__).resolve().parent.parent


def grade(command: str, roster: Path, out: Path) -> dict:
    """One `grade lab3 --roster` process: wall time, peak RSS, exit status, results."""
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    proc = subprocess.Popen([command, "lab3", "--roster", str(roster), "--format", "json", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "LANG": "C"})
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    return {"seconds": time.perf_counter() - start, "rss_mb": usage.ru_maxrss / 1024,
            "rc": os.waitstatus_to_exitcode(status), "results": json.loads(stdout)["results"] if stdout else []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--grade", default=str(ROOT / ".venv" / "bin" / "grade"),
                        help="the grade command to measure (e.g. another version of it)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the private libvirtd needs a mount namespace")
    work = Path(tempfile.mkdtemp(prefix="hostilebench-"))
    try:
        honest = simclass.write_class(work / "hosts", args.hosts)
        states = {s: st for s, _, st in honest}
        evil = work / "hosts" / "evil.xml"
        # written by a child: a forked process starts with its parent's peak memory (ru_maxrss),
        # so this process must never hold the 50 MB itself
        subprocess.run([sys.executable, "-c", "import sys; from grader.testing import simclass; "
                        "open(sys.argv[1], 'w').write(simclass.hostile_host_xml(int(sys.argv[2])))",
                        str(evil), str(args.megabytes)], check=True)
        with PrivateLibvirtd(work) as daemon:
            rows = [(s, daemon.uri(p)) for s, p, _ in honest]
            plain = simclass.write_roster(work / "plain.csv", rows)
            hostile = simclass.write_roster(work / "hostile.csv", rows[: args.hosts // 2]
                                            + [("evil", daemon.uri(evil.resolve()))] + rows[args.hosts // 2:])
            grade(args.grade, plain, work / "warmup")
            runs = {"baseline": [], "hostile": []}
            for i in range(args.repeat):           # alternate, so both see the same machine
                runs["baseline"].append(grade(args.grade, plain, work / f"b{i}"))
                runs["hostile"].append(grade(args.grade, hostile, work / f"h{i}"))
        best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
        by = {r["student"]: r for r in best["hostile"]["results"]}
        wrong = sum(1 for s, st in states.items()
                    if by.get(s, {}).get("status") != "graded" or by[s]["score"] != simclass.STATES[st])
        evil_result = by.get("evil", {})
        print(f"class: {args.hosts} simulated lab3 hosts + 1 serving {args.megabytes} MB, one private libvirtd; "
              f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}; grade = {args.grade}")
        print()
        print(f"{'figure':<62} {'value':>12}")
        for label, value in [
            (f"baseline: {args.hosts} honest hosts, wall (best of {args.repeat})", f"{best['baseline']['seconds']:.2f} s"),
            (f"with the hostile host, wall (best of {args.repeat})", f"{best['hostile']['seconds']:.2f} s"),
            ("  ratio to the baseline", f"{best['hostile']['seconds'] / best['baseline']['seconds']:.2f}x"),
            ("baseline peak memory (max RSS)", f"{best['baseline']['rss_mb']:.0f} MB"),
            ("with the hostile host, peak memory", f"{best['hostile']['rss_mb']:.0f} MB"),
            ("  ratio to the baseline", f"{best['hostile']['rss_mb'] / best['baseline']['rss_mb']:.2f}x"),
            ("honest students not graded with their state's score", f"{wrong} of {args.hosts}"),
            ("exit status (1: a host was not graded)", str(best["hostile"]["rc"])),
            ("the hostile host's result", f"{evil_result.get('status')}: {(evil_result.get('error') or '')[:80]}"),
        ]:
            print(f"{label:<62} {value:>12}" if len(value) <= 12 else f"{label}\n    {value}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
