"""Course configuration (course.toml): inside a course directory a bare `grade LAB` knows the class.

A course directory has a `course.toml` at its root; `grade` looks for it in the current
directory and then upward, as git looks for `.git`. Every key is optional; paths are relative
to the directory holding `course.toml`:

    roster = "roster.csv"          # CSV or Ansible inventory (see grader.classroom.roster)
    runs = "runs"                  # where each run's directory is written
    jobs = 64                      # hosts graded at once
    timeout = 20                   # seconds per host, connecting and reading included
    lang = "es"                    # feedback language
    gradebook = "gradebook.db"     # nbgrader's gradebook (sqlite file or SQLAlchemy URL)
    share_marker = "kvm-storage-lab.marker@1796668500.186554755"   # what `lab start lab1` prints

Command-line options always win over the file.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.core import sharemarker
from grader.core.i18n import LANGUAGES
from grader.errors import UsageError

FILENAME = "course.toml"
KEYS = {"roster": str, "runs": str, "jobs": int, "timeout": (int, float), "lang": str, "gradebook": str,
        "share_marker": str}
#: The same bounds as the command-line options (a zero or negative timeout grades no one).
RANGES = {"jobs": (1, 1000), "timeout": (0.1, 3600)}


@dataclass(frozen=True)
class Course:
    root: Path
    roster: Path | None = None
    runs: Path | None = None
    jobs: int | None = None
    timeout: float | None = None
    lang: str | None = None
    gradebook: str | None = None
    share_marker: str | None = None      # grader.core.sharemarker's reference, NAME@CTIME


def find(start: Path | None = None) -> Path | None:
    """The nearest course.toml from `start` (default: the cwd) upward, or None."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / FILENAME
        try:
            if candidate.is_file():
                return candidate
        except PermissionError:
            continue    # a folder this user may not enter holds no course of theirs
    return None


def load(path: Path) -> Course:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read the course configuration {path}: {err}") from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise UsageError(f"{path}: unknown key {unknown[0]!r}; the keys are {', '.join(KEYS)}")
    for key, value in data.items():
        if not isinstance(value, KEYS[key]) or isinstance(value, bool):
            raise UsageError(f"{path}: {key} = {value!r} has the wrong type; see docs/instructor.md")
        low, high = RANGES.get(key, (None, None))
        if low is not None and not low <= value <= high:
            raise UsageError(f"{path}: {key} = {value!r} is out of range: use {low:g} to {high:g}")
    if "lang" in data and data["lang"] not in LANGUAGES:
        raise UsageError(f"{path}: lang = {data['lang']!r}: use one of {', '.join(LANGUAGES)}")
    if "share_marker" in data:
        sharemarker.parse(data["share_marker"], f"{path}: share_marker")
    root = path.parent

    def rel(key):
        return root / data[key] if key in data else None

    gradebook = data.get("gradebook")
    if gradebook and "://" not in gradebook:
        gradebook = str(root / gradebook)
    return Course(root=root, roster=rel("roster"), runs=rel("runs"), jobs=data.get("jobs"),
                  timeout=float(data["timeout"]) if "timeout" in data else None,
                  lang=data.get("lang"), gradebook=gradebook, share_marker=data.get("share_marker"))


def current(start: Path | None = None) -> Course | None:
    path = find(start)
    return load(path) if path else None
