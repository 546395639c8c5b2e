"""`grade LAB` (also `lab grade LAB`): one student's host(s), or a whole class from a roster.

Thin: parse, call the core (grader.reading for one student, grader.classroom for a class or an
archived run), render through grader.render, return an exit status. One student: `--host` (or
the environment's URIs, grader.core.uris). A class: `--roster FILE`, or a bare `grade LAB`
inside a course directory whose course.toml names the roster (grader.classroom.courseconf).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import click

from grader import render
from grader.cli.environment import Environment, current
from grader.cli.exits import ExitStatus, graded, handles_errors
from grader.core import labdef, sharemarker
from grader.core.evidence import BadEvidence, Evidence
from grader.core.i18n import LANGUAGES, check_language
from grader.core.results import LabRun
from grader.core.scoring import score
from grader.core.uris import ALLOW_URI_PARAM_HELP, allowed_params
from grader.errors import UsageError


@click.command("grade")
@click.argument("lab_id", metavar="LAB")
@click.option("--host", "hosts", multiple=True, metavar="[ROLE=]URI",
              help="libvirt URI of the student's host; ROLE=URI for labs with several roles.")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path),
              help="Grade a class: CSV (student,A[,B][,email][,name]) or Ansible inventory (INI/YAML).")
@click.option("--exercise", "exercises", multiple=True, metavar="ID", help="Grade only these exercises.")
@click.option("--format", "fmt", type=click.Choice(render.FORMATS), default="table", show_default=True,
              help="What goes to stdout (a class run also archives every format).")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None,
              help="Feedback language (default: course.toml, $LAB_LANG or the locale).")
@click.option("--from-evidence", "from_evidence", type=click.Path(path_type=Path),
              help="Regrade offline: an evidence JSON file, or a whole run directory.")
@click.option("--save-evidence", "save_evidence", type=click.Path(dir_okay=False, path_type=Path),
              help="One student: also write the evidence read from the host(s) to this JSON file.")
@click.option("--student", default="local", show_default=True, help="One student: name in the report.")
@click.option("--jobs", type=click.IntRange(1, 1000), default=None,
              help="Class: hosts read at once (default 200; they mostly wait on the network).")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=None,
              help="Seconds for one student's hosts, connecting included (default 20).")
@click.option("--connect-timeout", "connect_timeout", type=click.FloatRange(0.1, 3600), default=None,
              help="Seconds to wait for one host to accept and answer the open (default 5).")
@click.option("--only", "only_students", multiple=True, metavar="STUDENT",
              help="Class: grade only these students (repeat, or separate with commas).")
@click.option("--retry-unreachable", is_flag=True,
              help="Class: grade again those unreachable (or never reached) in the last run, and merge.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Class: folder that holds the run directories (default course.toml's runs, else ./runs).")
@click.option("--run-dir", "run_dir", type=click.Path(path_type=Path), default=None,
              help="Class: exact directory for this run (must be new or empty).")
@click.option("--gradebook", default=None, metavar="DB",
              help="Class: also write the scores into this nbgrader gradebook (path or SQLAlchemy URL).")
@click.option("--watch", is_flag=True,
              help="Poll read-only until Ctrl-C: a live board (or one line per change); a class run "
                   "is archived on stop with timeline.json.")
@click.option("--interval", type=float, default=10.0, show_default=True, help="--watch: seconds between polls.")
@click.option("--serve", metavar="[HOST:]PORT", default=None,
              help="--watch: also serve a read-only page for the classroom screen (127.0.0.1 by default; "
                   "it answers only to that address and localhost).")
@click.option("--anonymous", is_flag=True,
              help="--watch or --format html: call students #1, #2... instead of their names (for projecting).")
@click.option("--allow-uri-param", "allow_uri_params", multiple=True, metavar="NAME",
              help=ALLOW_URI_PARAM_HELP)
@handles_errors
def grade(**given):
    """Grade LAB, read-only, on a student's host(s) or a whole class, with feedback per exercise."""
    return run(current(), GradeOptions(**given))


@dataclass(frozen=True)
class GradeOptions:
    """What `grade` was asked, as typed: one field per option of the command above."""

    lab_id: str
    hosts: tuple[str, ...] = ()
    roster: Path | None = None
    exercises: tuple[str, ...] = ()
    fmt: str = "table"
    lang: str | None = None
    from_evidence: Path | None = None
    save_evidence: Path | None = None
    student: str = "local"
    jobs: int | None = None
    timeout: float | None = None
    connect_timeout: float | None = None
    only_students: tuple[str, ...] = ()
    retry_unreachable: bool = False
    out: Path | None = None
    run_dir: Path | None = None
    gradebook: str | None = None
    watch: bool = False
    interval: float = 10.0
    serve: str | None = None
    anonymous: bool = False
    allow_uri_params: tuple[str, ...] = ()

    def class_options(self, env: Environment, only: list[str] | None):
        """The options a class run takes (grader.classroom.session.ClassOptions)."""
        from grader.classroom.session import ClassOptions

        students = [s.strip() for value in self.only_students for s in value.split(",") if s.strip()]
        return ClassOptions(only=only, students=students, jobs=self.jobs, timeout=self.timeout,
                            connect_timeout=self.connect_timeout, retry_unreachable=self.retry_unreachable,
                            out=_path(env, self.out), run_dir=_path(env, self.run_dir),
                            gradebook=self.gradebook, cwd=env.cwd,
                            allow_uri_params=allowed_params(self.allow_uri_params))


def run(env: Environment, opts: GradeOptions) -> ExitStatus:
    """Which kind of grading was asked (one student, a class, an archived run, live), checked
    for options that do not go together, then done."""
    from grader.classroom import courseconf

    lab = labdef.for_environment(env.env).load(opts.lab_id)
    home = env.env.get("HOME")
    course = courseconf.current(env.cwd, Path(home) if home else None)
    lang = check_language(opts.lang or (course.lang if course else None), env.env)
    only = [lab.exercise(e).id for e in opts.exercises] or None
    options = opts.class_options(env, only)
    options.expected = sharemarker.expected_facts(env.env, course)

    watching = {"--interval": opts.interval != 10.0, "--serve": opts.serve}
    if not opts.watch and any(watching.values()):
        raise UsageError(f"{next(k for k, v in watching.items() if v)} goes with --watch")
    if opts.anonymous and not opts.watch and opts.fmt != "html":
        raise UsageError("--anonymous hides names where people see them: use it with --watch (the board "
                         "and the class page) or --format html (the class report)")
    if opts.watch and (opts.from_evidence or opts.save_evidence or opts.retry_unreachable
                       or opts.gradebook or opts.fmt != "table"):
        raise UsageError("--watch reads hosts live and shows a board: it takes no --from-evidence, "
                         "--save-evidence, --retry-unreachable, --gradebook or --format (its run "
                         "directory holds every format)")
    from_evidence = _path(env, opts.from_evidence)
    if from_evidence and from_evidence.is_dir():
        from grader.classroom.session import regrade_run

        from grader.classroom.archive import RunDir

        regraded, emails, timeline = regrade_run(lab, from_evidence, lang, only)
        names = RunDir.open(from_evidence).meta().get("names", {})
        _print(env, opts.fmt, render.Report(regraded, lab, emails, timeline=timeline, names=names,
                                            anonymous=opts.anonymous))
        return graded(regraded.all_graded)
    if opts.roster and (opts.hosts or from_evidence):
        raise UsageError("give either --roster (a class) or --host/--from-evidence (one student), not both")
    roster_path = None if (opts.hosts or from_evidence) else (_path(env, opts.roster) or (course.roster if course else None))
    if roster_path is None:
        class_only = {"--jobs": opts.jobs, "--only": options.students, "--retry-unreachable": opts.retry_unreachable,
                      "--out": opts.out, "--run-dir": opts.run_dir, "--gradebook": opts.gradebook}
        used = [name for name, value in class_only.items() if value]
        if used:
            raise UsageError(f"{used[0]} grades a class: add --roster FILE (or run inside a course "
                             "directory whose course.toml names the roster)")
        if opts.watch:
            return _watch_one(env, lab, opts, lang, options, course)
        return _grade_one(env, lab, opts, lang, only, options, course)
    if opts.save_evidence:
        raise UsageError("--save-evidence is for one student; a class run archives every student's "
                         "evidence in its run directory")
    if opts.watch:
        return _watch_class(env, lab, opts, course, roster_path, lang, options)
    return _grade_class(env, lab, course, roster_path, opts.fmt, lang, options, opts.anonymous)


def _path(env: Environment, path: Path | None) -> Path | None:
    """Paths given on the command line are relative to the command's working directory."""
    return None if path is None else (path if path.is_absolute() else env.cwd / path)


# --- one student ---------------------------------------------------------------------------------

def _grade_one(env, lab, opts: GradeOptions, lang, only, options, course) -> ExitStatus:
    from grader.classroom.archive import atomic_write
    from grader.classroom.session import limits_for
    from grader.core.uris import parse_hosts

    if opts.from_evidence:
        evidence = _load_evidence(_path(env, opts.from_evidence), lab.id)
        result = score(lab, evidence, lang, only)
    else:
        from grader import grading
        from grader.reading.student import Target

        uris = parse_hosts(opts.hosts, lab.roles, env.env, options.allow_uri_params)
        result, evidence = grading.grade_one(lab, Target(opts.student, uris), limits_for(options, course),
                                             lang, only, options.expected)
    if opts.save_evidence:
        atomic_write(_path(env, opts.save_evidence), evidence.to_json())
    one = LabRun(lab=lab.id, max_score=lab.max_score, lang=lang, results=[result])
    _print(env, opts.fmt, render.Report(one, lab, single=True, anonymous=opts.anonymous))
    return graded(one.all_graded)


def _load_evidence(path: Path, lab_id: str) -> Evidence:
    try:
        evidence = Evidence.load(path)
    except FileNotFoundError:
        raise UsageError(f"no evidence file at {path}: give the path written by --save-evidence "
                         "or a run directory") from None
    except (OSError, BadEvidence) as err:
        raise UsageError(f"{path} is not an evidence file of this grader ({err})") from None
    if evidence.lab != lab_id:
        raise UsageError(f"{path} holds evidence for {evidence.lab}, not {lab_id}: grade {evidence.lab} instead")
    return evidence


# --- a class -------------------------------------------------------------------------------------

def _grade_class(env, lab, course, roster_path, fmt, lang, options, anonymous: bool = False) -> ExitStatus:
    from grader.classroom.session import grade_roster

    done = grade_roster(lab, course, roster_path, lang, options, env.stderr, env.stderr_is_terminal)
    archived = None if anonymous else done.reports.get(fmt)   # the run keeps names; anonymous is for stdout
    _print(env, fmt, render.Report(done.run, lab, done.emails, names=done.names, anonymous=anonymous), archived)
    if done.retried is not None:
        missing = f" ({done.missing} never reached by the last run)" if done.missing else ""
        retried = f" (retried {done.retried}{missing}, kept {done.kept})"
    else:
        retried = ""
    env.err(done.progress_line + retried)
    written = f"; {done.gradebook_rows} written to the gradebook" if done.gradebook_rows is not None else ""
    env.err(f"run archived in {done.path}{written}")
    for problem in done.problems:
        env.err(f"error: {problem}")
    if done.problems:
        return ExitStatus.USAGE
    return graded(done.all_graded)


# --- watched live ------------------------------------------------------------------------------

def _watch_one(env, lab, opts: GradeOptions, lang, options, course) -> ExitStatus:
    from grader.classroom.session import limits_for
    from grader.cli.watch import watch
    from grader.core.uris import parse_hosts
    from grader.reading.student import Target

    targets = [Target(opts.student, parse_hosts(opts.hosts, lab.roles, env.env, options.allow_uri_params))]
    return watch(env, lab, targets, lang, options, limits_for(options, course), opts.interval,
                 opts.serve, opts.anonymous)


def _watch_class(env, lab, opts: GradeOptions, course, roster_path, lang, options) -> ExitStatus:
    from grader.classroom.session import limits_for, load_roster, start_run
    from grader.cli.watch import watch

    class_roster = load_roster(lab, roster_path, options)
    limits = limits_for(options, course)
    target, meta = start_run(lab, course, class_roster, lang, options, limits, state="watching",
                             watch={"interval": opts.interval})
    emails = {e.student: e.email for e in class_roster.entries}
    return watch(env, lab, list(class_roster.entries), lang, options, limits, opts.interval, opts.serve,
                 opts.anonymous, archive_to=target, meta=meta, emails=emails)


def _print(env: Environment, fmt: str, report: render.Report, text: str | None = None) -> None:
    """The report in `fmt`; `text` is that report already rendered (a class run's archived file)."""
    if text is not None:
        env.out(text, nl=fmt not in ("csv", "table"))
        return
    if fmt == "table":   # colour on a terminal, unless NO_COLOR (no-color.org) says not
        colour = env.stdout_is_terminal and not env.env.get("NO_COLOR")
        report = replace(report, terminal=colour, width=env.columns)
    env.out(render.render(fmt, report), nl=fmt not in ("csv", "table"))
