"""KVM/libvirt storage course: the read-only grader, lab set-up and lab hosts.

The pipeline, one sub-package per stage (docs/architecture.md):

    reading/    reach a host (the only grading code that imports libvirt; read-only,
                bounded), collect its state in one pass, many students at once
    core/       pure, no libvirt: lab definitions, evidence (plain data, JSON), XML views,
                checks, scoring, results, messages
    render/     results in, text out: terminal table, JSON, CSV, HTML, feedback files
    classroom/  a class: roster, course.toml, a run into its archive, gradebook, progress
    cli/        the `lab` and `grade` commands (thin: parse, call, render, exit status)

and beside it: provision/ (what `lab start` builds, read-write), labhosts/ (libvirt hosts on
this machine), course/ (the course text and bilingual notebooks), notebook.py ("check my work"
cells), testing/ (simulated classes and fixture capture, for tests and benchmarks).
"""
from pathlib import Path

#: Repository root when installed editable: notebooks/ and course/ live here.
ROOT = Path(__file__).resolve().parent.parent
