#!/usr/bin/env python3
"""Benchmark of `grade --watch` (issue 14): a poll of a class with connections kept open, side by
side with a one-shot `grade --roster` of the same class, in one run.

    .venv/bin/python bench/watchbench.py [--hosts 200] [--big 1000] [--polls 6] [--interval 10]

One private libvirtd (test driver only, loopback, its own mount namespace) serves simulated lab3
hosts (grader.testing.simclass). Figures:

* one-shot `grade lab3 --roster` of N hosts, a whole process (best of 3): the baseline;
* a watch poll of the same N hosts after the first (connections open), wall time, and the
  instructor's CPU per poll (user + system of this process, libvirt's client threads included);
* the same for 1000 hosts, polled back to back, against the 10 s interval.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from grader.classroom.watch import Watch
from grader.core import labdef
from grader.reading.limits import Limits
from grader.reading.student import Target
from grader.testing import simclass
from grader.testing.loopback import PrivateLibvirtd

ROOT = Path(__file__).resolve().parent.parent
GRADE = str(ROOT / ".venv" / "bin" / "grade")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_shot(roster: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([GRADE, "lab3", "--roster", str(roster), "--format", "json", "--out", str(out)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def polls(targets: list[Target], count: int) -> tuple[float, list[float], list[float], int]:
    """The first poll (it opens every connection), then `count` polls: wall and CPU of each."""
    watch = Watch(labdef.load("lab3"), targets, Limits(jobs=200, timeout=60), "en")
    try:
        start = time.perf_counter()
        watch.poll()
        first = time.perf_counter() - start
        walls, cpus = [], []
        for _ in range(count):
            wall0, cpu0 = time.perf_counter(), cpu()
            watch.poll()
            walls.append(time.perf_counter() - wall0)
            cpus.append(cpu() - cpu0)
        graded = sum(r.status == "graded" for r in watch.results.values())
        return first, walls, cpus, graded
    finally:
        watch.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=6)
    parser.add_argument("--interval", type=float, default=10.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the private libvirtd needs a mount namespace")
    work = Path(tempfile.mkdtemp(prefix="watchbench-"))
    try:
        hosts = simclass.write_class(work / "hosts", max(args.hosts, args.big))
        with PrivateLibvirtd(work) as daemon:
            targets = [Target(s, {"A": daemon.uri(p)}) for s, p, _ in hosts]
            roster = simclass.write_roster(work / "roster.csv", [(t.student, t.hosts["A"]) for t in targets[:args.hosts]])
            one_shot(roster, work / "warmup")
            shots = []
            for i in range(3):
                shots.append(one_shot(roster, work / f"shot{i}"))
            first, walls, cpus, graded = polls(targets[:args.hosts], args.polls)
            big_first, big_walls, big_cpus, big_graded = polls(targets[:args.big], args.polls)
        base = min(shots)
        poll = statistics.median(walls)
        print(f"class: simulated lab3 hosts served by one private libvirtd on loopback; {os.cpu_count()} CPUs; "
              f"load {os.getloadavg()[0]:.2f}")
        print()
        print(f"{'figure':<66} {'value':>10}  target")
        for label, value, target in [
            (f"one-shot grade lab3 --roster, {args.hosts} hosts (best of 3, whole process)", f"{base:.2f} s", ""),
            (f"watch: first poll of {args.hosts} hosts (opens every connection)", f"{first:.2f} s", ""),
            (f"watch: a poll of {args.hosts} hosts, connections open (median of {args.polls})", f"{poll:.2f} s", ""),
            ("  ratio to the one-shot run", f"{poll / base:.2f}x", f"<= 0.5x {'ok' if poll / base <= 0.5 else 'MISSED'}"),
            (f"  instructor's CPU per poll, {args.hosts} hosts (median)", f"{statistics.median(cpus):.2f} s", ""),
            (f"  graded in the last poll", f"{graded}/{args.hosts}", ""),
            (f"watch: first poll of {args.big} hosts", f"{big_first:.2f} s", ""),
            (f"watch: a poll of {args.big} hosts (median / slowest of {args.polls})",
             f"{statistics.median(big_walls):.2f}/{max(big_walls):.2f} s",
             f"< {args.interval / 2:g} s (half the interval) "
             f"{'ok' if max(big_walls) < args.interval / 2 else 'MISSED'}"),
            (f"  instructor's CPU per poll, {args.big} hosts (median)", f"{statistics.median(big_cpus):.2f} s",
             f"= {100 * statistics.median(big_cpus) / args.interval:.0f} % of one core at a {args.interval:g} s interval"),
            (f"  graded in the last poll", f"{big_graded}/{args.big}", ""),
        ]:
            print(f"{label:<66} {value:>10}  {target}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
