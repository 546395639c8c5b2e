"""KVM/libvirt storage course: the read-only grader, lab set-up and lab hosts.

The pipeline, one sub-package per stage, in the order data flows (docs/architecture.md):

    reading/    reach a host (the only grading code that imports libvirt; read-only,
                bounded), collect its state in one pass: evidence, many students at once
    core/       pure, no libvirt: lab definitions and their needs, evidence (plain data,
                JSON), XML views, checks, scoring, results, messages
    grading.py  read, then score: one student, a class, a watch
    render/     results in, text out: terminal table, JSON, CSV, HTML, feedback files
    classroom/  a class: roster, course.toml, a run into its archive, gradebook, watching live
    cli/        the `lab` and `grade` commands (thin: parse, call, render, exit status)

and beside it: provision/ (what `lab start` builds, read-write), labhosts/ (libvirt hosts on
this machine), notebook/ (what notebooks call, and nbgrader's side), doctor/ (is a classroom
host ready?), course/ (the course text and its tests), testing/ (simulated classes and fixture
capture, for tests and benchmarks), files.py (where templates/ and notebooks/ are).
"""
from pathlib import Path

#: Repository root when installed editable: notebooks/ and course/ live here.
ROOT = Path(__file__).resolve().parent.parent
