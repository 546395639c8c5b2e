"""Gradebook CSV for Moodle's "Import grades from CSV file".

Moodle's CSV import (docs.moodle.org, Grade import) reads a header row, then one row per student;
in its preview the instructor maps one identifier column to a user field ("Email address" to
useremail, or "Username" to username) and each other column to a grade item (an existing one
or "new grade item"). So the file is: the identifier column, one column per exercise, the total.
Scores use a decimal point; a student who was not graded gets empty cells, which Moodle's import
skips, instead of a 0 that would look like a grade.

The identifier is the email when every student in the roster has one, else the student id.
"""
from __future__ import annotations

import csv
import io

from grader.labdef import Lab
from grader.results import GRADED, LabRun, number


def identifier_header(emails: dict[str, str | None]) -> str:
    return "Email address" if emails and all(emails.values()) else "Username"


def render(run: LabRun, lab: Lab, emails: dict[str, str | None] | None = None) -> str:
    """`emails` maps student -> email (None when unknown)."""
    emails = emails if emails is not None else {r.student: None for r in run.results}
    by_email = identifier_header({r.student: emails.get(r.student) for r in run.results})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([by_email] + [f"{lab.id} {ex.id}" for ex in lab.exercises] + [f"{lab.id} total"])
    for result in run.results:
        ident = emails.get(result.student) if by_email == "Email address" else result.student
        if result.status != GRADED:
            writer.writerow([ident] + [""] * (len(lab.exercises) + 1))
            continue
        scores = {e.id: e.score for e in result.exercises}
        writer.writerow([ident] + [_fmt(scores.get(ex.id)) for ex in lab.exercises] + [_fmt(result.score)])
    return buffer.getvalue()


def _fmt(value) -> str:
    return "" if value is None else str(number(value))
