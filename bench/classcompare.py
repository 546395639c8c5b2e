#!/usr/bin/env python3
"""A class run of this checkout against another one (e.g. main), alternated in one run.

    git archive main | tar -x -C /tmp/base
    .venv/bin/python bench/classcompare.py /tmp/base [--hosts 200] [--rounds 10]

One private libvirtd (test driver only, loopback) serves N simulated lab3 hosts
(grader.testing.simclass); `grade lab3 --roster` runs as a whole process, `--rounds` times for
each checkout, one after the other (so a busy machine slows both alike). The other checkout runs
with this venv and PYTHONPATH pointing at it. Prints the median and best of each and their ratio.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from grader.testing import simclass
from grader.testing.loopback import PrivateLibvirtd

ROOT = Path(__file__).resolve().parent.parent
GRADE = str(ROOT / ".venv" / "bin" / "grade")


def one_run(roster: Path, out: Path, pythonpath: str | None) -> float:
    if out.exists():
        shutil.rmtree(out)
    env = {**os.environ, "LANG": "C"}
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    start = time.perf_counter()
    proc = subprocess.run([GRADE, "lab3", "--roster", str(roster), "--format", "json", "--out", str(out)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"grade failed ({proc.returncode}): {proc.stderr.decode()[-600:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (its top folder)")
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the private libvirtd needs a mount namespace")
    if not (args.other / "grader" / "__init__.py").is_file():
        raise SystemExit(f"{args.other} is not a checkout of this project (no grader/ in it)")
    work = Path(tempfile.mkdtemp(prefix="classcompare-"))
    try:
        hosts = simclass.write_class(work / "hosts", args.hosts)
        with PrivateLibvirtd(work) as daemon:
            roster = simclass.write_roster(work / "roster.csv", [(s, daemon.uri(p)) for s, p, _ in hosts])
            sides = {"this": None, "other": str(args.other.resolve())}
            for side in sides.values():                       # warm the page cache and the daemon
                one_run(roster, work / "warm", side)
            times: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(args.rounds):
                for name, side in sides.items():
                    times[name].append(one_run(roster, work / name, side))
        print(f"grade lab3 --roster, {args.hosts} simulated hosts, {args.rounds} rounds alternated; "
              f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}")
        for name in sides:
            print(f"  {name:<6} median {statistics.median(times[name]):.2f} s   best {min(times[name]):.2f} s"
                  f"   ({' '.join(f'{t:.2f}' for t in times[name])})")
        print(f"  this / other: median {statistics.median(times['this']) / statistics.median(times['other']):.2f}x, "
              f"best {min(times['this']) / min(times['other']):.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
