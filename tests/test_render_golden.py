"""Every renderer's output compared with a stored golden file (as virtinst's tests compare XML).

The run is fixed: the toy lab's simulated hosts, one student whose host could not be read and
one whose host sent hostile text (terminal escapes, rich markup, a Markdown link, an HTML tag, a
spreadsheet formula). A change to a renderer shows up as a diff of its golden file; when the
change is intended, regenerate them and review the diff:

    REGEN_GOLDEN=1 .venv/bin/pytest tests/test_render_golden.py
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader import render
from grader.core import copies
from grader.core.results import ERROR, GRADED, UNREACHABLE, ExerciseResult, LabRun, StudentResult
from grader.core.scoring import score
from grader.core.events import Event
from grader.core.timeline import Timeline
from toyhelp import TOY, evidence

GOLDEN = Path(__file__).resolve().parent / "golden"
HOSTILE = "\x1b[2J\x1b]8;;https://evil.example/\x07[link=https://evil.example]x[/link] [/x] <b>tag</b> ](javascript:1) \u202eevil"


def fixed_run(lang: str) -> LabRun:
    graded = [evidence(state, student) for state, student in
              (("right", "ana"), ("untouched", "ben"), ("recreated", "=cmd|' /C calc'!A0"), ("right", "max"))]
    results = [score(TOY, e, lang) for e in graded[:3]]
    results.append(StudentResult("zoe", {"A": "qemu+ssh://zoe@10.0.0.9/system"}, UNREACHABLE,
                                 "host A: no answer from qemu+ssh://zoe@10.0.0.9/system within 5 s of connecting (connect timeout)",
                                 None, TOY.max_score))
    results.append(StudentResult("mal", {"A": "qemu+tcp://127.0.0.1:9/system"}, ERROR, f"host A: {HOSTILE}",
                                 None, TOY.max_score))
    hostile = score(TOY, graded[3], lang)
    hostile.exercises[1] = ExerciseResult("vm-snap", 3, 3, f"Good: '{HOSTILE}' was taken.", ["snap-ok"])
    results.append(hostile)
    for result in results:      # the same text wherever the checkout lives
        if result.hosts["A"].startswith("test://"):
            result.hosts = {"A": f"qemu+tcp://127.0.0.1:{16610 + len(result.student)}/system"}
    # the toy hosts are one XML file each: whoever shares a file shares its domain's identity
    return LabRun("toy", TOY.max_score, lang, results, copies.find({e.student: copies.signals(e) for e in graded}))


def fixed_timeline(run: LabRun) -> Timeline:
    """A watched session: everyone untouched at the start, the results of `run` 7 minutes in."""
    timeline = Timeline([r.student for r in run.results], [e.id for e in TOY.exercises], 1_700_000_000)
    blank = [StudentResult(r.student, r.hosts, GRADED, None, 0, r.max_score,
                           [ExerciseResult(e.id, 0, e.points, "", []) for e in TOY.exercises]) for r in run.results]
    timeline.update(blank, 1_700_000_000)
    timeline.record([Event("ana", "A", "pool", "toy-pool", "defined", "", 1_700_000_030),
                     Event("ana", "A", "pool", "toy-pool", "started", "", 1_700_000_031),
                     Event("ana", "A", "pool", "other", "started", "", 1_700_000_032),      # explains nothing
                     Event("max", "A", "domain", "toy-vm", "started", "migrated", 1_700_000_100),
                     Event("max", "A", "domain", "toy-vm", "metadata-changed", HOSTILE, 1_700_000_200),
                     *[Event("max", "A", "domain", "toy-vm", "suspended", "paused", 1_700_000_300 + i)
                       for i in range(3)]], {"max": 7})
    timeline.update(run.results, 1_700_000_420)
    return timeline


#: The roster's names of some students (the others have none: their ids show).
NAMES = {"ana": "Ana García", "max": "Max <i>Mustermann</i>"}


CASES = [(name, lang) for name in render.REGISTRY for lang in ("en", "es")]


@pytest.fixture(autouse=True)
def _utc(utc):
    """Times of day (events seen at 22:13:50) read the same on every machine (conftest's `utc`)."""


@pytest.mark.parametrize("name, lang", CASES, ids=[f"{n}-{lang}" for n, lang in CASES])
def test_renderer_output_matches_its_golden_file(name, lang):
    run = fixed_run(lang)
    report = render.Report(run, TOY, {"ana": "ana@uni.es", "ben": None}, width=120, timeline=fixed_timeline(run),
                           names=NAMES)
    outputs = {"stdout": render.render(name, report)}
    if name == "table":
        outputs["single"] = render.render(name, render.Report(LabRun("toy", 5, lang, run.results[-1:]), TOY,
                                                              single=True, width=120))
    for part, text in outputs.items():
        path = GOLDEN / f"{name}-{lang}-{part}.txt"
        if os.environ.get("REGEN_GOLDEN"):
            path.write_text(text)
        assert path.is_file(), f"no golden file {path.name}: run with REGEN_GOLDEN=1 and review it"
        assert text == path.read_text(), f"{path.name} differs: review, then REGEN_GOLDEN=1"
        # whatever the format, no control character of a host reaches it raw
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text


@pytest.mark.parametrize("name", list(render.REGISTRY))
def test_the_archive_holds_what_the_renderer_renders(name):
    report = render.Report(fixed_run("en"), TOY, {"ana": "ana@uni.es", "ben": None})
    files = dict(render.get(name).outputs(report))
    renderer = render.get(name)
    if renderer.archive:
        assert files == {renderer.archive: render.render(name, report)}
    elif renderer.student:
        assert len(files) == len(report.run.results) and "".join(files.values()).count("# toy") == 6
    else:
        assert files == {}


def test_every_golden_file_belongs_to_a_renderer():
    names = {f"{n}-{lang}-" for n, lang in CASES}
    strays = [p.name for p in GOLDEN.glob("*.txt") if not any(p.name.startswith(n) for n in names)]
    assert not strays, f"golden files of no renderer: {strays}"
