"""`grade LAB` (also `lab grade LAB`): one student's host(s), or a whole class from a roster.

Thin: parse, call the core (grading / classrun / archive), render. One student: `--host` (or
$LIBVIRT_DEFAULT_URI). A class: `--roster FILE`, or a bare `grade LAB` inside a course directory
whose course.toml names the roster (grader.courseconf).
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from grader import labdef
from grader.cli.main import reports_errors
from grader.errors import ExitStatus, UsageError
from grader.evidence import Evidence
from grader.i18n import LANGUAGES, check_language
from grader.render import jsonout, table
from grader.results import LabRun
from grader.scoring import score

FORMATS = ["table", "json", "csv", "html"]


@click.command("grade")
@click.argument("lab_id", metavar="LAB")
@click.option("--host", "hosts", multiple=True, metavar="[ROLE=]URI",
              help="libvirt URI of the student's host; ROLE=URI for labs with several roles.")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path),
              help="Grade a class: CSV (student,A[,B][,email][,name]) or Ansible inventory (INI/YAML).")
@click.option("--exercise", "exercises", multiple=True, metavar="ID", help="Grade only these exercises.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
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
              help="Class: seconds for one student's hosts, connecting included (default 20).")
@click.option("--connect-timeout", "connect_timeout", type=click.FloatRange(0.1, 3600), default=None,
              help="Class: seconds to wait for one host to accept and answer the open (default 5).")
@click.option("--only", "only_students", multiple=True, metavar="STUDENT",
              help="Class: grade only these students (repeat, or separate with commas).")
@click.option("--retry-unreachable", is_flag=True,
              help="Class: grade again only those unreachable in the last run, and merge.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Class: folder that holds the run directories (default course.toml's runs, else ./runs).")
@click.option("--run-dir", "run_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Class: exact directory for this run (must be new or empty).")
@click.option("--gradebook", default=None, metavar="DB",
              help="Class: also write the scores into this nbgrader gradebook (path or SQLAlchemy URL).")
@reports_errors
def grade(lab_id, hosts, roster, exercises, fmt, lang, from_evidence, save_evidence, student, jobs,
          timeout, connect_timeout, only_students, retry_unreachable, out, run_dir, gradebook):
    """Grade LAB, read-only, on a student's host(s) or a whole class, with feedback per exercise."""
    from grader import courseconf

    lab = labdef.load(lab_id)
    course = courseconf.current()
    lang = check_language(lang or (course.lang if course else None))
    only = [lab.exercise(e).id for e in exercises] or None
    only_students = [s.strip() for value in only_students for s in value.split(",") if s.strip()]
    class_options = {"--jobs": jobs, "--timeout": timeout, "--connect-timeout": connect_timeout,
                     "--only": only_students, "--retry-unreachable": retry_unreachable, "--out": out,
                     "--run-dir": run_dir, "--gradebook": gradebook}

    if from_evidence and from_evidence.is_dir():
        from grader.classgrade import regrade_run

        run, emails = regrade_run(lab, from_evidence, lang, only)
        _print(run, lab, fmt, emails)
        sys.exit(int(ExitStatus.OK if run.all_graded else ExitStatus.NOT_GRADED))
    roster_path = None if (hosts or from_evidence) else (roster or (course.roster if course else None))
    if roster and (hosts or from_evidence):
        raise UsageError("give either --roster (a class) or --host/--from-evidence (one student), not both")
    if roster_path is None:
        used = [name for name, value in class_options.items() if value]
        if used:
            raise UsageError(f"{used[0]} grades a class: add --roster FILE (or run inside a course "
                             "directory whose course.toml names the roster)")
        _grade_one(lab, hosts, fmt, lang, only, from_evidence, save_evidence, student)
        return
    if save_evidence:
        raise UsageError("--save-evidence is for one student; a class run archives every student's "
                         "evidence in its run directory")
    from grader.classgrade import ClassOptions

    _grade_class(lab, course, roster_path, fmt, lang, ClassOptions(
        only=only, students=only_students, jobs=jobs, timeout=timeout,
        connect_timeout=connect_timeout, retry_unreachable=retry_unreachable, out=out,
        run_dir=run_dir, gradebook=gradebook))


# --- one student (the original behaviour) ------------------------------------------------------

def _grade_one(lab, hosts, fmt, lang, only, from_evidence, save_evidence, student):
    from grader.archive import atomic_write
    from grader.grading import grade_student
    from grader.hostargs import parse_hosts

    if from_evidence:
        evidence = _load_evidence(from_evidence, lab.id)
        result = score(lab, evidence, lang, only)
    else:
        uris = parse_hosts(hosts, lab.roles)
        result, evidence = grade_student(lab, student, uris, lang, only)
    if save_evidence:
        atomic_write(save_evidence, evidence.to_json())
    run = LabRun(lab=lab.id, max_score=lab.max_score, lang=lang, results=[result])
    if fmt == "table":
        table.render(run, Console())
    else:
        _print(run, lab, fmt, {})
    sys.exit(int(ExitStatus.OK if run.all_graded else ExitStatus.NOT_GRADED))


def _load_evidence(path: Path, lab_id: str) -> Evidence:
    try:
        evidence = Evidence.load(path)
    except FileNotFoundError:
        raise UsageError(f"no evidence file at {path}: give the path written by --save-evidence "
                         "or a run directory") from None
    except (ValueError, KeyError, TypeError) as err:
        raise UsageError(f"{path} is not an evidence file of this grader ({err})") from None
    if evidence.lab != lab_id:
        raise UsageError(f"{path} holds evidence for {evidence.lab}, not {lab_id}: grade {evidence.lab} instead")
    return evidence


# --- a class -----------------------------------------------------------------------------------

def _grade_class(lab, course, roster_path, fmt, lang, options) -> None:
    from grader.classgrade import grade_roster

    done = grade_roster(lab, course, roster_path, lang, options, sys.stderr)
    _print(done.run, lab, fmt, done.emails, done.json_text)
    retried = f" (retried {done.retried}, kept {done.kept})" if done.retried is not None else ""
    click.echo(done.progress_line + retried, err=True)
    written = f"; {done.gradebook_rows} written to the gradebook" if done.gradebook_rows is not None else ""
    click.echo(f"run archived in {done.path}{written}", err=True)
    sys.exit(int(ExitStatus.OK if done.run.all_graded else ExitStatus.NOT_GRADED))


def _print(run: LabRun, lab, fmt: str, emails: dict, json_text: str | None = None) -> None:
    if fmt == "json":
        click.echo(json_text or jsonout.render(run))
    elif fmt == "csv":
        from grader.render import csvout

        click.echo(csvout.render(run, lab, emails), nl=False)
    elif fmt == "html":
        from grader.render import html

        click.echo(html.render(run, lab))
    else:
        from grader.render import summary

        summary.render(run, lab, Console())
