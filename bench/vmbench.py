#!/usr/bin/env python3
"""Benchmark: starting VM hosts (own kernel) beside light hosts, in one run (issues 10, 22).

    .venv/bin/python bench/vmbench.py [--from-scratch] [--repeat 2]

Each figure is a whole `lab` process in a scratch LAB_HOME with free ports, so the hosts a
developer has up are never touched:

* light hosts a and b up (the baseline: libvirtds on this kernel, with GlusterFS and iSCSI);
* VM hosts a and b, cold: `lab hosts down --purge`, then `lab hosts up --vm` with the image
  cached: two guests booting side by side from fresh overlays until both libvirtds answer and
  the storage host serves NFS and iSCSI. Also the CPU time each guest's QEMU used until then:
  the boot's work, which does not depend on what else runs on the machine (wall time does:
  this machine's 2 cores are shared);
* VM hosts a and b suspended (`lab hosts down`) and resumed (`lab hosts up --vm`), with a
  domain running inside a, which must still run after the resume;
* with --from-scratch, the image itself in a scratch LAB_IMAGES: the Debian base (mmdebstrap,
  zfs-dkms compiled for the guest kernel) and then the image assembled from it, which is also
  what a change to a guest file costs.

It prints each figure with its ratio to the light hosts' start-up and, for the resume, to the
cold start of the same run (target: at most a fifth, and at most 15 s).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from grader.testing.loopback import free_port_base

ROOT = Path(__file__).resolve().parent.parent

LAB = ROOT / ".venv" / "bin" / "lab"
RESUME_TARGET = {"seconds": 15.0, "fraction": 0.2}
DOMAIN = ("<domain type='qemu'><name>bench-keep</name><memory unit='MiB'>64</memory>"
          "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>")


def timed(argv: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[1:])} failed: {done.stderr.strip()}")
    return seconds, done.stdout + done.stderr


def lab(env: dict, *args: str) -> tuple[float, str]:
    return timed([str(LAB), *args], env)


def qemu_cpu_seconds(home: Path) -> list[float]:
    """User + system CPU time of each running VM host's QEMU (from /proc)."""
    found = []
    for pid_file in sorted((home / "vm" / "hosts").glob("*/qemu.pid")):
        try:
            fields = Path(f"/proc/{pid_file.read_text().split()[0]}/stat").read_text()
        except (OSError, IndexError):
            continue
        utime, stime = fields.rsplit(")", 1)[1].split()[11:13]
        found.append((int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK"))
    return found


def env_of(env: dict) -> dict:
    _, out = lab(env, "hosts", "env")
    return dict(re.findall(r"^export (\w+)='?([^'\n]*)'?$", out, re.M))


def vm_round(env: dict, home: Path) -> dict:
    """One cold start, then a suspend and a resume with a domain running in a."""
    lab(env, "hosts", "down", "--purge")
    cold, out = lab(env, "hosts", "up", "--vm")
    cpu = qemu_cpu_seconds(home)
    hosts = env_of(env)
    virsh = ["virsh", "-q", "-c", hosts["LAB_URI_A"]]
    subprocess.run([*virsh, "create", "/dev/stdin"], input=DOMAIN, text=True, check=True,
                   capture_output=True)
    save, _ = lab(env, "hosts", "down")
    resume, resumed = lab(env, "hosts", "up", "--vm")
    running = subprocess.run([*virsh, "domstate", "bench-keep"], capture_output=True,
                             text=True).stdout.strip()
    if "resumed" not in resumed:
        raise SystemExit(f"lab hosts up --vm did not resume: {resumed.strip()}")
    accel = re.search(r"under (KVM|TCG)", out)
    return {"cold": cold, "cpu": cpu, "save": save, "resume": resume, "running": running,
            "accel": accel.group(1) if accel else "?"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--from-scratch", action="store_true",
                        help="also build the image from Debian packages (several minutes)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: lab hosts need root")
    work = Path(tempfile.mkdtemp(prefix="vmbench-"))
    home = work / "home"
    env = {**os.environ, "LAB_HOME": str(home), "LAB_PORT_BASE": free_port_base(["a", "b"])}
    try:
        light = []
        for _ in range(args.repeat):
            light.append(lab(env, "hosts", "up")[0])
            lab(env, "hosts", "down")
        rounds = [vm_round(env, home) for _ in range(args.repeat)]
        base = statistics.median(light)
        cold = statistics.median(r["cold"] for r in rounds)
        resume = statistics.median(r["resume"] for r in rounds)
        save = statistics.median(r["save"] for r in rounds)
        cpu = [c for r in rounds for c in r["cpu"]]
        ok = resume <= RESUME_TARGET["seconds"] and resume <= RESUME_TARGET["fraction"] * cold
        print(f"light hosts a+b up (baseline):          {base:7.1f} s")
        print(f"VM hosts a+b cold (fresh overlays):     {cold:7.1f} s "
              f"({cold / base:.0f}x the light hosts; {rounds[-1]['accel']}; each guest's QEMU "
              f"used {statistics.median(cpu):.0f} s of CPU until then)")
        print(f"VM hosts a+b down (state saved):        {save:7.1f} s")
        print(f"VM hosts a+b resumed:                   {resume:7.1f} s "
              f"({resume / base:.1f}x the light hosts; {resume / cold:.2f} of the cold start: "
              f"{'ok' if ok else 'MISSED'} <= {RESUME_TARGET['seconds']:.0f} s and "
              f"<= {RESUME_TARGET['fraction']:.1f}); the domain in a: "
              f"{', '.join(r['running'] for r in rounds)}")
        print(f"load average while measuring:           {os.getloadavg()[0]:7.1f} "
              f"({os.cpu_count()} CPUs, shared)")
        if args.from_scratch:
            scratch = {**env, "LAB_IMAGES": str(work / "images")}
            built, out = timed([str(LAB), "image", "build"], scratch)
            steps = re.findall(r"\[(\d)/4\][^\n]*\(after (\d+) s\)", out)
            base_done = next((int(s) for n, s in steps if n == "2"), 0)
            print(f"image from scratch (base + assembly):   {built:7.1f} s "
                  f"({built / base:.0f}x; Debian base about {base_done} s)")
            for image in (work / "images" / "images").iterdir():
                if image.is_dir() and not image.name.startswith("base-"):
                    shutil.rmtree(image)
            assembled, _ = timed([str(LAB), "image", "build"], scratch)
            print(f"image from the cached base:             {assembled:7.1f} s "
                  f"({assembled / base:.0f}x; a change to a guest file costs this)")
    finally:
        done = subprocess.run([str(LAB), "hosts", "down", "--purge"], env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:      # never delete the directory of hosts still running
            raise SystemExit(f"lab hosts down failed, {work} kept: {done.stderr.strip()}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
