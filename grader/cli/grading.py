"""`grade LAB` (also `lab grade LAB`): collect, score, render. Thin: parse, call the core, render."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from grader import labdef
from grader.cli.main import reports_errors
from grader.errors import ExitStatus, UsageError
from grader.evidence import Evidence
from grader.grading import grade_student
from grader.hostargs import parse_hosts
from grader.i18n import LANGUAGES, check_language
from grader.render import jsonout, table
from grader.results import LabRun
from grader.scoring import score


@click.command("grade")
@click.argument("lab_id", metavar="LAB")
@click.option("--host", "hosts", multiple=True, metavar="[ROLE=]URI",
              help="libvirt URI of the student's host; ROLE=URI for labs with several roles.")
@click.option("--exercise", "exercises", multiple=True, metavar="ID", help="Grade only these exercises.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--lang", type=click.Choice(LANGUAGES), default=None,
              help="Feedback language (default: $LAB_LANG or the locale).")
@click.option("--from-evidence", "from_evidence", type=click.Path(dir_okay=False, path_type=Path),
              help="Regrade offline from a saved evidence JSON file.")
@click.option("--save-evidence", "save_evidence", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the evidence read from the host(s) to this JSON file.")
@click.option("--student", default="local", show_default=True, help="Name of the student in the report.")
@reports_errors
def grade(lab_id, hosts, exercises, fmt, lang, from_evidence, save_evidence, student):
    """Grade LAB on a student's host(s), read-only, and print a score per exercise with feedback."""
    lab = labdef.load(lab_id)
    lang = check_language(lang)
    only = [lab.exercise(e).id for e in exercises] or None
    if from_evidence:
        evidence = _load_evidence(from_evidence, lab.id)
        result = score(lab, evidence, lang, only)
    else:
        uris = parse_hosts(hosts, lab.roles)
        result, evidence = grade_student(lab, student, uris, lang, only)
    if save_evidence:
        _write_atomically(save_evidence, evidence.to_json())
    run = LabRun(lab=lab.id, max_score=lab.max_score, lang=lang, results=[result])
    if fmt == "json":
        click.echo(jsonout.render(run))
    else:
        table.render(run, Console())
    sys.exit(int(ExitStatus.OK if run.all_graded else ExitStatus.NOT_GRADED))


def _load_evidence(path: Path, lab_id: str) -> Evidence:
    try:
        evidence = Evidence.load(path)
    except FileNotFoundError:
        raise UsageError(f"no evidence file at {path}: give the path written by --save-evidence") from None
    except (ValueError, KeyError, TypeError) as err:
        raise UsageError(f"{path} is not an evidence file of this grader ({err})") from None
    if evidence.lab != lab_id:
        raise UsageError(f"{path} holds evidence for {evidence.lab}, not {lab_id}: grade {evidence.lab} instead")
    return evidence


def _write_atomically(path: Path, text: str) -> None:
    """Write beside, then rename: an interrupted run never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
