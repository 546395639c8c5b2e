"""Gradebook CSV for Moodle's "Import grades from CSV file" (grades.csv, --format csv).

Moodle's CSV import (docs.moodle.org, Grade import) reads a header row, then one row per student;
in its preview the instructor maps one identifier column to a user field ("Email address" to
useremail, or "Username" to username) and each other column to a grade item (an existing one
or "new grade item"). So the file is: the identifier column, one column per exercise, the total.
Scores use a decimal point; a student who was not graded gets empty cells, which Moodle's import
skips, instead of a 0 that would look like a grade.

The identifier is the email when every student in the roster has one, else the student id.
A cell that a spreadsheet would run as a formula (starting with = + - @, tab or CR) gets a
leading apostrophe, as OWASP's CSV-injection advice says.
"""
from __future__ import annotations

import csv
import io

from grader.core.results import GRADED, number
from grader.core.text import printable
from grader.render import Renderer, Report

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def identifier_header(emails) -> str:
    return "Email address" if emails and all(emails.values()) else "Username"


def cell(value) -> str:
    """A text cell that no spreadsheet runs as a formula and no terminal obeys."""
    text = printable(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def render(report: Report) -> str:
    run, lab = report.run, report.lab
    emails = report.emails if report.emails else {r.student: None for r in run.results}
    by_email = identifier_header({r.student: emails.get(r.student) for r in run.results})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([by_email] + [f"{lab.id} {ex.id}" for ex in lab.exercises] + [f"{lab.id} total"])
    for result in run.results:
        ident = cell(emails.get(result.student) if by_email == "Email address" else result.student)
        if result.status != GRADED:
            writer.writerow([ident] + [""] * (len(lab.exercises) + 1))
            continue
        scores = {e.id: e.score for e in result.exercises}
        writer.writerow([ident] + [_fmt(scores.get(ex.id)) for ex in lab.exercises] + [_fmt(result.score)])
    return buffer.getvalue()


def _fmt(value) -> str:
    return "" if value is None else str(number(value))


RENDERER = Renderer("csv", render, archive="grades.csv")
