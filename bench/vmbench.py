#!/usr/bin/env python3
"""Benchmark: starting VM hosts (own kernel) beside light hosts, in one run (issue 10).

    .venv/bin/python bench/vmbench.py [--from-scratch] [--repeat 2]

Each figure is a whole `lab hosts up` process in a scratch LAB_HOME with free ports, followed by
`lab hosts down`, so the hosts a developer has up are never touched:

* light hosts a and b (the baseline: libvirtds on this kernel, with their GlusterFS and iSCSI);
* VM hosts a and b with the image cached: two guests booting side by side until both libvirtds
  answer and the storage host serves NFS and iSCSI;
* with --from-scratch, the image itself in a scratch LAB_IMAGES: the Debian base (mmdebstrap,
  zfs-dkms compiled for the guest kernel) and then the image assembled from it, which is also
  what a change to a guest file costs.

It prints each figure and its ratio to the light hosts' start-up, and the accelerator used.
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


def timed(argv: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[1:])} failed: {done.stderr.strip()}")
    return seconds, done.stdout + done.stderr


def up_down(vm: bool, env: dict) -> tuple[float, str]:
    seconds, out = timed([str(LAB), "hosts", "up", *(["--vm"] if vm else [])], env)
    timed([str(LAB), "hosts", "down"], env)
    return seconds, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--from-scratch", action="store_true",
                        help="also build the image from Debian packages (several minutes)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: lab hosts need root")
    work = Path(tempfile.mkdtemp(prefix="vmbench-"))
    try:
        env = {**os.environ, "LAB_HOME": str(work / "home"),
               "LAB_PORT_BASE": free_port_base(["a", "b"])}
        light = [up_down(False, env)[0] for _ in range(args.repeat)]
        vm_runs = [up_down(True, env) for _ in range(args.repeat)]
        vm = [s for s, _ in vm_runs]
        accel = re.search(r"under (KVM|TCG)", vm_runs[-1][1])
        base = statistics.median(light)
        print(f"light hosts a+b up (baseline):        {base:7.1f} s")
        print(f"VM hosts a+b up, image cached:        {statistics.median(vm):7.1f} s "
              f"({statistics.median(vm) / base:.0f}x the light hosts; "
              f"{accel.group(1) if accel else '?'})")
        if args.from_scratch:
            scratch = {**env, "LAB_IMAGES": str(work / "images")}
            built, out = timed([str(LAB), "image", "build"], scratch)
            steps = re.findall(r"\[(\d)/4\][^\n]*\(after (\d+) s\)", out)
            base_done = next((int(s) for n, s in steps if n == "2"), 0)
            print(f"image from scratch (base + assembly): {built:7.1f} s "
                  f"({built / base:.0f}x; Debian base about {base_done} s)")
            for image in (work / "images" / "images").iterdir():
                if image.is_dir() and not image.name.startswith("base-"):
                    shutil.rmtree(image)
            assembled, _ = timed([str(LAB), "image", "build"], scratch)
            print(f"image from the cached base:           {assembled:7.1f} s "
                  f"({assembled / base:.0f}x; a change to a guest file costs this)")
    finally:
        subprocess.run([str(LAB), "hosts", "down"], env={**os.environ, "LAB_HOME": str(work / "home")},
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
