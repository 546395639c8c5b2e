#!/usr/bin/env python3
"""Benchmark of class grading (issue 6, item 6; issue 22, items 3 and 6): prints its figures.

    .venv/bin/python bench/classbench.py [--hosts 200] [--big 1000] [--baseline-hosts 200]
    .venv/bin/python bench/classbench.py --floor-only [--repeat 9] [--against /path/to/other/checkout]

What it does, all on loopback and all started (and stopped) by itself:

* writes N simulated lab3 hosts (libvirt test-driver node XML files, right and wrong states,
  bench/simclass.py) and a CSV roster whose URIs are test+unix:///ABS/PATH.xml?socket=SOCKET;
* starts ONE libvirtd serving them on its own unix socket (in a 0700 directory), in a private mount namespace (`unshare --mount`)
  with its own /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and
  /var/cache/libvirt bound over the real ones, its own pid file and port, and no hypervisor
  driver modules (LIBVIRT_DRIVER_DIR points at an empty folder: only the built-in test driver),
  so it never touches any other libvirtd on the machine;
* times `grade lab3 --roster` as a whole process (start to exit), against a baseline measured in
  the same run: a sequential shell script gathering the same facts with `virsh`;
* against its floor, in the same run: a bare read-only collector (BARE below: a Python script
  that opens each host read-only and reads the same objects with 16 threads, nothing else), run
  alternately with `grade`, wall time and CPU (user + system, the process's own rusage), median
  of --repeat runs each, and their ratios; `--against DIR` times another checkout's `grade` in
  the same alternation (main before a change: `git archive main | tar -x -C /tmp/before`);
* again through a proxy (written here, on a unix socket of its own) that delays every libvirt RPC message by 20 ms in each
  direction (this kernel has no netem);
* again with 5 hung hosts (a listener that accepts and never answers) in the class;
* prints libvirt calls per host (API calls made by the collector, and RPC messages seen by the
  proxy) and the peak memory (max RSS) of the grade process, also for a class of 1000.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from grader.testing import simclass
from grader.testing.loopback import DelayProxy, HungHost, PrivateLibvirtd

ROOT = Path(__file__).resolve().parent.parent
GRADE = str(ROOT / ".venv" / "bin" / "grade")
TARGETS = {"plain": 1.0, "speedup": 30.0, "delay": 3.0, "hung_slack": 1.0, "memory_mb": 200.0,
           "floor_ratio": 1.5}


# --- measuring ---------------------------------------------------------------------------------

def run_grade(roster: Path, out: Path, *extra: str) -> dict:
    """`grade lab3 --roster` as a whole process: wall time, max RSS, exit status, results."""
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    proc = subprocess.Popen([GRADE, "lab3", "--roster", str(roster), "--format", "json",
                             "--out", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "LANG": "C"})
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode == 2:
        raise SystemExit(f"grade failed: {stderr.decode()[-800:]}")
    results = json.loads(stdout)["results"]
    return {"seconds": seconds, "rc": proc.returncode, "results": results, "out": out}


def run_grade_rss(roster: Path, out: Path, *extra: str) -> tuple[float, float, int]:
    """Like run_grade, but reaps the child itself to read its own peak memory (wait4)."""
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    proc = subprocess.Popen([GRADE, "lab3", "--roster", str(roster), "--format", "json",
                             "--out", str(out), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, proc.returncode


BASELINE = r"""#!/bin/sh
# What an instructor writes by hand today: one host after the other, the same facts with virsh.
tail -n +2 "$1" | while IFS=, read -r student uri email; do
  echo "== $student"
  virsh -r -c "$uri" pool-dumpxml lab3
  for v in $(virsh -r -c "$uri" vol-list lab3 --name); do virsh -r -c "$uri" vol-dumpxml --pool lab3 "$v"; done
  for d in lab3-vm lab3-raw; do
    virsh -r -c "$uri" domstate "$d"
    virsh -r -c "$uri" dumpxml "$d"
    virsh -r -c "$uri" snapshot-current --name "$d"
    for s in $(virsh -r -c "$uri" snapshot-list --name "$d"); do
      virsh -r -c "$uri" snapshot-dumpxml "$d" "$s"
    done
  done
done
"""


def run_baseline(roster: Path, work: Path) -> float:
    script = work / "baseline.sh"
    script.write_text(BASELINE)
    start = time.perf_counter()
    subprocess.run(["sh", str(script), str(roster)], stdout=open(work / "baseline.out", "w"),
                   stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - start


BARE = r'''"""The floor of grading a class: open each host read-only, read lab3's objects, nothing else."""
import sys
from concurrent.futures import ThreadPoolExecutor

import libvirt

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
POOLS, DOMAINS = {"lab3"}, {"lab3-vm", "lab3-raw"}


def read(uri):
    conn = libvirt.openReadOnly(uri)
    try:
        got = [conn.getCapabilities()]
        for pool in conn.listAllStoragePools(0):
            if pool.name() in POOLS:
                active = pool.isActive()
                got += [pool.XMLDesc(0), pool.isPersistent(), pool.autostart()]
                if active:
                    got += [(vol.name(), vol.XMLDesc(0)) for vol in pool.listAllVolumes(0)]
        stats = [(dom, st) for dom, st in conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)
                 if dom.name() in DOMAINS]
        transient = {d.UUIDString() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT)}
        for dom, st in stats:
            got += [dom.name(), dom.UUIDString(), dom.XMLDesc(0)]
            if dom.UUIDString() not in transient and st.get("state.state") != libvirt.VIR_DOMAIN_SHUTOFF:
                got.append(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
            snapshots = dom.listAllSnapshots(0)
            if snapshots:
                got.append(dom.snapshotCurrent(0).getName())
            got += [(snap.getName(), snap.getXMLDesc(0)) for snap in snapshots]
            if dom.name() == "lab3-raw":          # what libvirt probes of its disk file
                got.append(dom.blockInfo("vda", 0))
        return got
    finally:
        conn.close()


uris = [line.split(",")[1] for line in open(sys.argv[1]).read().splitlines()[1:]]
with ThreadPoolExecutor(16) as pool:
    print(sum(1 for _ in pool.map(read, uris)), "hosts read")
'''


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """A whole process, start to exit: (wall seconds, CPU seconds: its own user + system)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "LANG": "C", **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}... failed (exit {os.waitstatus_to_exitcode(status)})")
    return wall, usage.ru_utime + usage.ru_stime


def floor_runs(roster: Path, work: Path, repeat: int, against: Path | None) -> dict[str, list]:
    """`grade` and the bare collector (and another checkout's grade), one after the other,
    `repeat` times: each round's runs see the same machine. Each grade writes a new run
    directory (none is deleted while timing)."""
    script = work / "bare.py"
    script.write_text(BARE)
    python = str(ROOT / ".venv" / "bin" / "python")
    # both grades started the same way: this checkout's (installed in .venv), or --against's
    grade = [python, "-c", "import sys; from grader.cli.main import grade; sys.argv[0] = 'grade'; grade()",
             "lab3", "--roster", str(roster), "--format", "json", "--out"]
    runs: dict[str, tuple[list[str], dict]] = {
        "bare": ([python, str(script), str(roster)], {}),
        "grade": ([*grade, str(work / "floor-grade")], {})}
    if against is not None:
        runs["against"] = ([*grade, str(work / "floor-against")], {"PYTHONPATH": str(against.resolve())})
    out: dict[str, list] = {name: [] for name in runs}
    for name, (cmd, env) in runs.items():      # warm-up: page cache, .pyc files, libvirtd
        timed(cmd, env)
    for _ in range(repeat):
        for name, (cmd, env) in runs.items():
            out[name].append(timed(cmd, env))
    return out


def floor_rows(figures: dict[str, list], against: Path | None) -> list[tuple[str, str, str]]:
    """The closing note's rows: medians, and each grade's ratio to the bare collector."""
    def median(name, i):
        return statistics.median(run[i] for run in figures[name])

    n = len(figures["bare"])
    bare_wall, bare_cpu = median("bare", 0), median("bare", 1)
    rows = [(f"bare read-only collector, 16 threads (median of {n})",
             f"{bare_wall:.2f} s", f"CPU {bare_cpu:.2f} s")]
    names = [("grade", "grade lab3 --roster (this checkout)")]
    if against is not None:
        names.append(("against", f"grade lab3 --roster ({against})"))
    for name, label in names:
        wall, cpu = median(name, 0), median(name, 1)
        ratio = wall / bare_wall
        rows += [(f"{label[:58]}", f"{wall:.2f} s", f"CPU {cpu:.2f} s"),
                 ("  wall time / bare collector's", f"{ratio:.2f}x",
                  f"<= {TARGETS['floor_ratio']:g}x {verdict(ratio <= TARGETS['floor_ratio'])}"),
                 ("  CPU / bare collector's", f"{cpu / bare_cpu:.2f}x", "")]
    return rows


def print_rows(rows) -> None:
    print()
    print(f"{'figure':<58} {'value':>12}  target")
    for name, value, target in rows:
        print(f"{name:<58} {value:>12}  {target}")


def calls_per_host(out: Path) -> float:
    run = next(out.iterdir())
    calls = [json.loads(p.read_text())["hosts"]["A"]["libvirt_calls"]
             for p in (run / "evidence").glob("*.json")
             if json.loads(p.read_text())["hosts"]]
    return statistics.mean(calls) if calls else 0.0


def check_scores(results: list[dict], states: dict[str, str]) -> int:
    """How many graded students got a score other than their simulated state's."""
    return sum(1 for r in results if r["status"] == "graded" and r["score"] != simclass.STATES[states[r["student"]]])


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--baseline-hosts", type=int, default=None, help="default: --hosts")
    parser.add_argument("--hung", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=5.0, help="grade --timeout for the hung-host run")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--repeat", type=int, default=9, help="runs of grade and of the bare collector")
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout whose grade is timed in the same rounds (its .venv not needed)")
    parser.add_argument("--floor-only", action="store_true", help="only grade against the bare collector")
    args = parser.parse_args()
    if args.against is not None and not (args.against / "grader" / "cli" / "main.py").is_file():
        raise SystemExit(f"--against {args.against}: not a checkout of this project (no grader/cli/main.py)")
    if os.geteuid() != 0:
        raise SystemExit("run as root: the private libvirtd needs a mount namespace")
    work = Path(tempfile.mkdtemp(prefix="classbench-"))
    try:
        big = simclass.write_class(work / "hosts", max(args.hosts, args.big))
        states = {s: st for s, _, st in big}
        with PrivateLibvirtd(work) as daemon:
            rows = [(s, daemon.uri(p)) for s, p, _ in big[:args.hosts]]
            roster = simclass.write_roster(work / "roster.csv", rows)
            print(f"class: {args.hosts} simulated lab3 hosts (test driver node XML) served by one private "
                  f"libvirtd on {daemon.socket}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}")
            run_grade(roster, work / "warmup")  # page cache, libvirtd first-connection work
            floor = floor_runs(roster, work, args.repeat, args.against)
            if args.floor_only:
                print_rows(floor_rows(floor, args.against))
                return

            plain = [run_grade(roster, work / f"plain{i}") for i in range(3)]
            best = min(plain, key=lambda r: r["seconds"])
            wrong = check_scores(best["results"], states)
            graded = sum(r["status"] == "graded" for r in best["results"])
            calls = calls_per_host(best["out"])

            n_base = args.baseline_hosts or args.hosts
            base_roster = simclass.write_roster(work / "roster-base.csv", rows[:n_base])
            base = run_baseline(base_roster, work) * (args.hosts / n_base)

            with DelayProxy(daemon.socket, args.delay_ms / 1000) as proxy:
                delayed_roster = simclass.write_roster(
                    work / "roster-delay.csv", [(s, daemon.uri(p, proxy.socket)) for s, p, _ in big[:args.hosts]])
                delayed = run_grade(delayed_roster, work / "delay")
                messages = proxy.messages_per_connection()

            with HungHost() as hung:
                hung_rows = [(s, f"test+tcp://127.0.0.1:{hung.port}{p}") if i < args.hung else (s, u)
                             for i, ((s, p, _), (_, u)) in enumerate(zip(big, rows))]
                hung_roster = simclass.write_roster(work / "roster-hung.csv", hung_rows)
                hung_run = run_grade(hung_roster, work / "hung", "--timeout", str(args.timeout))
            unreachable = sum(r["status"] == "unreachable" for r in hung_run["results"])

            big_rows = [(s, daemon.uri(p)) for s, p, _ in big[:args.big]]
            big_roster = simclass.write_roster(work / "roster-big.csv", big_rows)
            t_small, rss_small, _ = run_grade_rss(roster, work / "rss-small")
            t_big, rss_big, rc_big = run_grade_rss(big_roster, work / "rss-big")

        start_only = min(_startup() for _ in range(3))
        rows_out = [
            (f"grade lab3 --roster, {args.hosts} hosts (best of 3, whole process)", f"{best['seconds']:.2f} s",
             f"< {TARGETS['plain']:g} s {verdict(best['seconds'] < TARGETS['plain'])}"),
            ("  of which Python start-up + imports (grade --help)", f"{start_only:.2f} s", ""),
            ("  graded / scores different from the simulated state", f"{graded} / {wrong}", ""),
            (f"virsh baseline, sequential shell script ({n_base} hosts" + (", scaled)" if n_base != args.hosts else ")"),
             f"{base:.2f} s", ""),
            ("speed-up over the virsh baseline", f"{base / best['seconds']:.1f}x",
             f">= {TARGETS['speedup']:g}x {verdict(base / best['seconds'] >= TARGETS['speedup'])}"),
            (f"with {args.delay_ms:g} ms added each way per message", f"{delayed['seconds']:.2f} s",
             f"< {TARGETS['delay']:g} s {verdict(delayed['seconds'] < TARGETS['delay'])}"),
            (f"with {args.hung} hung hosts, --timeout {args.timeout:g}", f"{hung_run['seconds']:.2f} s",
             f"< {args.timeout + TARGETS['hung_slack']:g} s "
             f"{verdict(hung_run['seconds'] < args.timeout + TARGETS['hung_slack'])}"),
            ("  unreachable in that run (expected: the hung hosts)", f"{unreachable}", ""),
            ("libvirt API calls per host (collector, after connecting)", f"{calls:.1f}", ""),
            ("RPC messages per host, client to server (seen by the proxy)", f"{messages:.1f}", ""),
            (f"peak memory (max RSS), {args.hosts} hosts", f"{rss_small:.0f} MB", ""),
            (f"peak memory (max RSS), {args.big} hosts ({t_big:.2f} s, exit {rc_big})", f"{rss_big:.0f} MB",
             f"< {TARGETS['memory_mb']:g} MB {verdict(rss_big < TARGETS['memory_mb'])}"),
            *floor_rows(floor, args.against),
        ]
        print_rows(rows_out)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _startup() -> float:
    start = time.perf_counter()
    subprocess.run([GRADE, "--help"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
