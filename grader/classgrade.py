"""Grading a class from a roster into a run directory: the orchestration behind `grade --roster`.

Reads the roster, grades every student (grader.classrun), writes each student's evidence and
result as they arrive and every report at the end (grader.archive), optionally fills nbgrader's
gradebook. Knows nothing of the command line: the CLI passes options in and prints what it gets.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from grader import archive, classrun, roster
from grader.errors import UsageError
from grader.evidence import Evidence
from grader.progress import ClassProgress
from grader.results import UNREACHABLE, LabRun
from grader.scoring import score
from grader.render import jsonout


@dataclass
class ClassOptions:
    only: list[str] | None = None            # exercises
    students: list[str] = field(default_factory=list)
    jobs: int | None = None
    timeout: float | None = None
    connect_timeout: float | None = None
    retry_unreachable: bool = False
    out: Path | None = None
    run_dir: Path | None = None
    gradebook: str | None = None


@dataclass
class ClassRun:
    run: LabRun
    path: Path
    emails: dict
    json_text: str
    progress_line: str
    retried: int | None = None
    kept: int = 0
    gradebook_rows: int | None = None


def grade_roster(lab, course, roster_path: Path, lang: str, options: ClassOptions,
                 progress_stream: TextIO) -> ClassRun:
    """Grade every student of the roster (or those unreachable last time) into a new run dir."""
    class_roster = roster.load(roster_path, lab.roles)
    if options.students:
        class_roster = class_roster.select(options.students)
    runs_parent = options.out or (course.runs if course and course.runs else Path("runs"))
    previous, kept = None, []
    entries = list(class_roster.entries)
    if options.retry_unreachable:
        previous = archive.latest(runs_parent, lab.id)
        if previous is None:
            raise UsageError(f"no earlier run of {lab.id} under {runs_parent}: run `grade {lab.id}` "
                             "first (or give --out where its runs are)")
        old = {r.student: r for r in previous.results()}
        retry = {s for s, r in old.items() if r.status == UNREACHABLE}
        entries = [e for e in entries if e.student in retry]
        kept = [r for s, r in old.items() if s not in retry and s in set(class_roster.students())]
    defaults = classrun.Limits()
    limits = classrun.Limits(
        jobs=options.jobs or (course.jobs if course and course.jobs else defaults.jobs),
        timeout=options.timeout or (course.timeout if course and course.timeout else defaults.timeout),
        connect_timeout=options.connect_timeout or defaults.connect_timeout)
    target = archive.RunDir.create(runs_parent, lab.id, exact=options.run_dir)
    meta = {"lab": lab.id, "lang": lang, "roster": str(roster_path), "started": time.time(),
            "state": "running", "students": class_roster.students(), "exercises": options.only,
            "emails": {e.student: e.email for e in class_roster.entries if e.email},
            "limits": {"jobs": limits.jobs, "timeout": limits.timeout,
                       "connect_timeout": limits.connect_timeout},
            "retry_of": str(previous.path) if previous else None}
    target.write_meta(meta)
    for result in kept:  # merged from the last run: copy its result and evidence unchanged
        target.write_student(result, Evidence.load(previous.evidence_path(result.student)))

    with ClassProgress(len(entries), lab.id, progress_stream) as progress:
        def on_result(result, evidence):
            target.write_student(result, evidence)
            progress.update(result)

        try:
            new = classrun.grade_class(lab, entries, limits, lang, options.only, on_result)
        except BaseException:
            target.write_meta({**meta, "state": "interrupted", "finished": time.time()})
            raise
    by_student = {r.student: r for r in [*kept, *new]}
    run = LabRun(lab=lab.id, max_score=lab.max_score, lang=lang,
                 results=[by_student[s] for s in class_roster.students() if s in by_student])
    emails = {e.student: e.email for e in class_roster.entries}
    json_text = write_reports(target, run, lab, emails)
    written = None
    gradebook = options.gradebook or (course.gradebook if course else None)
    if gradebook:
        from grader import gradebook as nbgradebook

        written = nbgradebook.write(gradebook, run, lab, {e.student: e for e in class_roster.entries})
    target.write_meta({**meta, "state": "complete", "finished": time.time(),
                       "graded": sum(r.status == "graded" for r in run.results),
                       "not_graded": sum(r.status != "graded" for r in run.results)})
    return ClassRun(run=run, path=target.path, emails=emails, json_text=json_text,
                    progress_line=progress.line(),
                    retried=len(entries) if options.retry_unreachable else None,
                    kept=len(kept), gradebook_rows=written)


def write_reports(target: archive.RunDir, run: LabRun, lab, emails) -> str:
    """Every report of a class run; returns the JSON text (also what --format json prints)."""
    from grader.render import csvout, feedback, html, summary

    for result in run.results:
        target.write_report(f"feedback/{archive.safe_name(result.student)}.md",
                            feedback.render(result, lab, run.lang))
    json_text = jsonout.render(run)
    target.write_report("grades.csv", csvout.render(run, lab, emails))
    target.write_report("summary.txt", summary.text(run, lab))
    target.write_report("results.json", json_text)
    target.write_report("report.html", html.render(run, lab))
    return json_text


def regrade_run(lab, path: Path, lang: str, only) -> tuple[LabRun, dict]:
    """A whole archived run, scored again from its evidence alone (no host is contacted)."""
    rundir = archive.RunDir.open(path)
    meta = rundir.meta()
    if meta.get("lab", lab.id) != lab.id:
        raise UsageError(f"{path} is a run of {meta['lab']}, not {lab.id}: grade {meta['lab']} instead")
    evidence = rundir.evidence()
    wrong = [e for e in evidence if e.lab != lab.id]
    if wrong:
        raise UsageError(f"{rundir.evidence_path(wrong[0].student)} holds evidence for {wrong[0].lab}, not {lab.id}")
    results = [score(lab, e, lang, only) for e in evidence]
    run = LabRun(lab=lab.id, max_score=lab.max_score, lang=lang, results=rundir.ordered(results))
    return run, meta.get("emails", {})
