#!/usr/bin/env python3
"""Benchmark of autograde in the sandbox (issue 19): `nbgrader autograde` of one submission with
each kernel in bubblewrap, side by side with the same command without the sandbox, in one run.

    .venv/bin/python bench/sandboxbench.py [--lab lab3] [--students 1] [--rounds 5]

A temporary copy of the course (tests/nbgrader_course.py) with `--lab` generated and `--students`
submissions, each the release with the solutions filled in. Each round runs `nbgrader autograde LAB
--force` (every submission, one kernel each, in one process) twice: once with the course's
nbgrader_config.py and once with a copy whose only change is the line that configures the sandbox
(the baseline), in alternating order so that a machine shared with others weighs on both alike.
Figures: the median wall time of each, their ratio and difference per submission, and the scores
(every run must give full marks).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))   # the course copy the tests use

from nbgrader_course import fill_solutions, make_course  # noqa: E402

import nbformat  # noqa: E402

SANDBOX_LINE = "sandboxkernel.configure(c)"


def prepare(folder: Path, lab: str, students: int):
    course = make_course(folder)
    course.assignments = [lab]
    course.nbgrader("generate_assignment", lab, "--force")
    source = nbformat.read(course.root / "notebooks" / lab / f"{lab}.ipynb", 4)
    for n in range(students):
        submitted = course.root / "submitted" / f"student{n:03}" / lab
        shutil.copytree(course.root / "release" / lab, submitted)
        notebook = submitted / f"{lab}.ipynb"
        nbformat.write(fill_solutions(nbformat.read(notebook, 4), source), notebook)
    sandboxed = (course.root / "nbgrader_config.py").read_text()
    assert SANDBOX_LINE in sandboxed, "nbgrader_config.py no longer configures the sandbox this way"
    baseline = sandboxed.replace(SANDBOX_LINE, "pass  # baseline: no sandbox")
    return course, {"sandbox": sandboxed, "baseline": baseline}


def autograde(course, lab: str, config: str) -> tuple[float, set[float]]:
    (course.root / "nbgrader_config.py").write_text(config)
    start = time.perf_counter()
    course.nbgrader("autograde", lab, "--force", "--create")
    took = time.perf_counter() - start
    return took, _scores(course, lab)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="lab3")
    parser.add_argument("--students", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sandboxbench-") as tmp:
        course, configs = prepare(Path(tmp), args.lab, args.students)
        times: dict[str, list[float]] = {"sandbox": [], "baseline": []}
        scores: dict[str, set[float]] = {"sandbox": set(), "baseline": set()}
        for round_ in range(args.rounds):
            order = ["sandbox", "baseline"] if round_ % 2 == 0 else ["baseline", "sandbox"]
            for name in order:
                took, got = autograde(course, args.lab, configs[name])
                times[name].append(took)
                scores[name] |= got
                print(f"round {round_ + 1} {name:8} {took:6.2f} s  scores {sorted(got)}", flush=True)
    sandbox, baseline = (statistics.median(times[n]) for n in ("sandbox", "baseline"))
    n = args.students
    print(f"\nautograde of {n} {args.lab} submission(s) in one command, median of {args.rounds}:")
    print(f"  without the sandbox {baseline:6.2f} s   (min {min(times['baseline']):.2f})  {baseline / n:5.2f} s each")
    print(f"  in the sandbox      {sandbox:6.2f} s   (min {min(times['sandbox']):.2f})  {sandbox / n:5.2f} s each")
    print(f"  ratio {sandbox / baseline:.2f}, difference {(sandbox - baseline) / n:+.2f} s per submission")
    print(f"  scores: sandbox {sorted(scores['sandbox'])}, baseline {sorted(scores['baseline'])}")


def _scores(course, lab: str) -> set[float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        return {s.score for s in gb.find_assignment(lab).submissions}


if __name__ == "__main__":
    main()
