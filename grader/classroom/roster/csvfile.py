"""A CSV roster (`.csv`): a header `student,A[,B][,email][,name]`, one row per student, one column
per role holding a libvirt URI."""
from __future__ import annotations

import csv
import io
import re

from grader.classroom.roster.records import Raw

_ROLE = re.compile(r"^[A-Z]$")
META_COLUMNS = ("student", "email", "name")


def parse(text: str, problems: list[str], roles: tuple[str, ...]) -> list[Raw]:
    reader = csv.reader(io.StringIO(text))
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as err:   # e.g. a field over csv's limit of 128 KiB, a NUL byte
        problems.append(f"line {reader.line_num + 1}: not readable as CSV ({err})")
        return []
    rows = [(n, r) for n, r in rows if any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    if not rows:
        return []
    header_line, header = rows[0]
    header = [h.strip() for h in header]
    if "student" not in header:
        problems.append(f"line {header_line}: missing column 'student' in the header "
                        "(expected student,A[,B][,email][,name])")
        return []
    for col in header:
        if col not in META_COLUMNS and not _ROLE.match(col):
            problems.append(f"line {header_line}: unknown column {col!r}: use student, email, name "
                            "and one column per role (A, B)")
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        problems.append(f"line {header_line}: column {dup[0]!r} appears twice in the header")
    out = []
    for line, row in rows[1:]:
        if len(row) > len(header):
            problems.append(f"line {line}: {len(row)} fields but the header has {len(header)}")
            continue
        values = dict(zip(header, (c.strip() for c in row)))
        raw = Raw(student=values.get("student", ""), line=line,
                   email=values.get("email") or None, name=values.get("name") or None)
        for col, value in values.items():
            if _ROLE.match(col) and value:
                raw.hosts[col], raw.where[col] = value, line
        out.append(raw)
    missing = [r for r in roles if r not in header]
    if missing:  # reported once, on the header, instead of once per student
        problems.append(f"line {header_line}: missing column {missing[0]!r}: this lab needs roles "
                        f"{', '.join(roles)}")
        return []
    return out
