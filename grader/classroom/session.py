"""Grading a class from a roster into a run directory: the orchestration behind `grade --roster`.

Reads the roster, grades every student (grader.grading), hands each student to the archive's
writer thread as they arrive (evidence, result and feedback: grader.classroom.archive), renders
every other report once at the end, optionally fills nbgrader's gradebook. Knows nothing of the
command line: the CLI passes options in and prints what it gets back (a report it asks for is
the text already archived, not rendered again).

One student never costs the others their grade: whatever goes wrong while one student's host is
read, scored or archived becomes that student's `error`, and the class is still reported. A
failure after grading (the gradebook) leaves the run complete and is handed back to be said.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from grader import render
from grader.classroom import archive, roster
from grader.classroom.progress import ClassProgress
from grader.core import copies
from grader.core.evidence import Evidence
from grader.core.labdef import Lab
from grader.core.results import GRADED, UNREACHABLE, LabRun, StudentResult
from grader.core.scoring import score
from grader.errors import LabError, UsageError, one_line
from grader.reading.limits import Limits

if TYPE_CHECKING:
    from grader.core.timeline import Timeline


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
    cwd: Path = field(default_factory=Path.cwd)   # where ./runs is, without --out or course.toml
    expected: dict = field(default_factory=dict)  # grading.expected_facts: the course's references
    allow_uri_params: frozenset[str] = frozenset()   # --allow-uri-param (grader.core.uris)


@dataclass
class ClassRun:
    """What a class run produced, for the CLI to print."""

    run: LabRun
    path: Path
    emails: dict
    progress_line: str
    retried: int | None = None
    names: dict = field(default_factory=dict)   # the roster's `name` column, for the HTML report
    missing: int = 0                         # retried because the last run never reached them
    kept: int = 0
    gradebook_rows: int | None = None
    problems: list[str] = field(default_factory=list)   # after grading: one line each
    reports: dict[str, str] = field(default_factory=dict)  # renderer -> its archived text

    @property
    def all_graded(self) -> bool:
        return self.run.all_graded


def limits_for(options: ClassOptions, course) -> Limits:
    """Command-line options win over course.toml, which wins over the defaults."""
    defaults = Limits()
    return Limits(
        jobs=options.jobs or (course.jobs if course and course.jobs else defaults.jobs),
        timeout=options.timeout or (course.timeout if course and course.timeout else defaults.timeout),
        connect_timeout=options.connect_timeout or defaults.connect_timeout)


def load_roster(lab: Lab, roster_path: Path, options: ClassOptions) -> roster.Roster:
    """The class as the roster gives it, only the students asked for (--only)."""
    class_roster = roster.load(roster_path, lab.roles, allow=options.allow_uri_params)
    return class_roster.select(options.students) if options.students else class_roster


def runs_folder(options: ClassOptions, course) -> Path:
    """Where a class's run directories go: --out, else course.toml's `runs`, else ./runs."""
    return options.out or (course.runs if course and course.runs else options.cwd / "runs")


def start_run(lab: Lab, course, class_roster: roster.Roster, lang: str, options: ClassOptions,
              limits: Limits, **meta) -> tuple[archive.RunDir, dict]:
    """The new run directory of a class run or a watch, with its run.json written: what was
    asked (`meta` adds the state and what is particular to the run)."""
    target = archive.RunDir.create(runs_folder(options, course), lab.id, exact=options.run_dir)
    meta = {"lab": lab.id, "lang": lang, "roster": str(class_roster.source), "started": time.time(),
            "students": class_roster.students(), "exercises": options.only,
            "emails": {e.student: e.email for e in class_roster.entries if e.email},
            "names": {e.student: e.name for e in class_roster.entries if e.name},
            "limits": {"jobs": limits.jobs, "timeout": limits.timeout,
                       "connect_timeout": limits.connect_timeout},
            "retry_of": None, **meta}
    target.write_meta(meta)
    return target, meta


def grade_roster(lab: Lab, course, roster_path: Path, lang: str, options: ClassOptions,
                 progress_stream: TextIO, terminal: bool = False) -> ClassRun:
    """Grade every student of the roster (or those a retry needs) into a new run directory."""
    class_roster = load_roster(lab, roster_path, options)
    entries, previous, kept, missing = list(class_roster.entries), None, [], 0
    if options.retry_unreachable:
        entries, previous, kept, missing = _retry_plan(lab, runs_folder(options, course), class_roster)
    limits = limits_for(options, course)
    target, meta = start_run(lab, course, class_roster, lang, options, limits, state="running",
                             retry_of=str(previous.path) if previous else None)
    emails = {e.student: e.email for e in class_roster.entries}
    # a student's own files (feedback) read the lab and the run's language, nothing of the others
    own = render.Report(LabRun(lab.id, lab.max_score, lang, []), lab, emails)
    for result in kept:  # merged from the last run: copy its result and evidence unchanged
        target.copy_student(previous, result)
        for name, text in render.student_files(own, result):
            target.write_report(name, text)
    from grader import grading  # libvirt is loaded only when hosts are read

    # the reports' imports and templates, in a thread of their own while the hosts are read
    prepared = threading.Thread(target=render.prepare, name="prepare-reports", daemon=True)
    prepared.start()

    identities = {r.student: kept_signals(previous, r.student) for r in kept}
    with ClassProgress(len(entries), lab.id, progress_stream, terminal) as progress:
        writer = archive.StudentWriter(target, lambda result: render.student_files(own, result),
                                       on_archived=progress.update)

        def on_graded(result: StudentResult, evidence: Evidence) -> StudentResult:
            try:
                identities[result.student] = copies.signals(evidence)
            except Exception:  # noqa: BLE001 - unreadable XML already made this student's error
                identities[result.student] = set()
            writer.put(result, evidence)
            return result

        try:
            with writer:
                new = grading.grade_many(lab, entries, limits, lang, options.only, on_graded,
                                         expected=options.expected)
        except BaseException:
            target.write_meta({**meta, "state": "interrupted", "finished": time.time()})
            raise
    new = [writer.archived.get(r.student, r) for r in new]   # an archive failure is an error
    by_student = {r.student: r for r in [*kept, *new]}
    run = LabRun(lab=lab.id, max_score=lab.max_score, lang=lang,
                 results=[by_student[s] for s in class_roster.students() if s in by_student],
                 copies=copies.find(identities))
    names = {e.student: e.name for e in class_roster.entries if e.name}
    prepared.join()
    reports = archive_reports(target, render.Report(run, lab, emails, names=names), per_student=False)
    problems = reports.problems
    target.write_meta({**meta, "state": "complete", "finished": time.time(),
                       "graded": sum(r.status == GRADED for r in run.results),
                       "not_graded": sum(r.status != GRADED for r in run.results)})
    written = None
    gradebook = options.gradebook or (course.gradebook if course else None)
    if gradebook:
        from grader.classroom import gradebook as nbgradebook

        try:
            written = nbgradebook.write(gradebook, run, lab, {e.student: e for e in class_roster.entries})
        except LabError as err:
            problems.append(f"the run is complete in {target.path}, but the gradebook was not "
                            f"written: {err}")
    return ClassRun(run=run, path=target.path, emails=emails, names=names, progress_line=progress.line(),
                    retried=len(entries) if options.retry_unreachable else None, missing=missing,
                    kept=len(kept), gradebook_rows=written, problems=problems, reports=reports.texts)


def _retry_plan(lab: Lab, runs_parent: Path, class_roster: roster.Roster):
    """Who a retry grades: those unreachable last time, and those the last run never reached
    (it was interrupted, or the roster grew); everyone else's result is kept."""
    previous = archive.latest(runs_parent, lab.id)
    if previous is None:
        raise UsageError(f"no earlier run of {lab.id} under {runs_parent}: run `grade {lab.id}` "
                         "first (or give --out where its runs are)")
    old = {r.student: r for r in previous.results()}
    roster_students = set(class_roster.students())
    retry = {s for s, r in old.items() if r.status == UNREACHABLE}
    never = roster_students - set(old)
    entries = [e for e in class_roster.entries if e.student in retry | never]
    kept = [r for s, r in old.items() if s not in retry and s in roster_students]
    return entries, previous, kept, len(never)


def kept_signals(previous: archive.RunDir, student: str) -> set:
    """The identities of a student kept from an earlier run, read back from their evidence."""
    try:
        return copies.signals(Evidence.load(previous.evidence_path(student)))
    except (OSError, ValueError):
        return set()


def archived(target: archive.RunDir, lab: Lab, result: StudentResult, evidence: Evidence) -> StudentResult:
    """Write one student's evidence and result now; a student whose files cannot be written gets
    that as their error (and a result file saying so, if even that can be written)."""
    return target.archive_student(result, evidence)


@dataclass
class Reports:
    """What archive_reports wrote: each one-file renderer's text (what `--format NAME` prints,
    so the CLI prints it without rendering the run again), and one line per renderer that failed."""

    texts: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def archive_reports(target: archive.RunDir, report: render.Report, per_student: bool = True) -> Reports:
    """Every renderer's files into the run directory, each rendered once; `per_student=False`
    leaves out the students' own files (a class run's writer wrote them as they were graded).
    A renderer that fails is one line of `problems` and does not stop the others."""
    out = Reports()
    for name in render.REGISTRY:
        try:
            renderer = render.get(name)
            if renderer.student is not None and not per_student:
                continue
            for path, text in renderer.outputs(report):
                target.write_report(path, text)
                if path == renderer.archive:
                    out.texts[name] = text
        except Exception as err:  # noqa: BLE001 - report it, write the rest
            out.problems.append(f"could not write the {name} report: {one_line(err)}")
    return out


def write_reports(target: archive.RunDir, report: render.Report) -> list[str]:
    """Every renderer's files into the run directory (a watched run's); what could not be
    written, one line each."""
    return archive_reports(target, report).problems


def regrade_run(lab: Lab, path: Path, lang: str, only) -> tuple[LabRun, dict, Timeline | None]:
    """A whole archived run, scored again from its evidence alone (no host is contacted)."""
    rundir = archive.RunDir.open(path)
    meta = rundir.meta()
    if meta.get("lab", lab.id) != lab.id:
        raise UsageError(f"{path} is a run of {meta['lab']}, not {lab.id}: grade {meta['lab']} instead")
    evidence = rundir.evidence()
    if not evidence:
        raise UsageError(f"{path} holds no evidence files (evidence/*.json): nothing to regrade; "
                         "give a run directory written by `grade --roster`")
    wrong = [e for e in evidence if e.lab != lab.id]
    if wrong:
        raise UsageError(f"{rundir.evidence_path(wrong[0].student)} holds evidence for {wrong[0].lab}, not {lab.id}")
    results = [score(lab, e, lang, only) for e in evidence]
    run = LabRun(lab=lab.id, max_score=lab.max_score, lang=lang, results=rundir.ordered(results),
                 copies=copies.find({e.student: copies.signals(e) for e in evidence}))
    return run, meta.get("emails", {}), rundir.timeline()
