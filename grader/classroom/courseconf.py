"""Course configuration (course.toml): inside a course directory a bare `grade LAB` knows the class.

A course directory has a `course.toml` at its root; `grade` looks for it in the current
directory and then upward, as git looks for `.git`, but no further than the repository (a folder
holding `.git`) or the home directory it is in. The file sets where runs are written and which
gradebook is filled, so one that someone else could have written is refused with one line: it
must be owned by the user running `grade` (or root), as must a symlink to it, and not be
writable by group or others (a course.toml planted in /tmp is never taken). Every key is
optional; paths are relative to the directory holding `course.toml`:

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

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.core import sharemarker
from grader.core.i18n import LANGUAGES
from grader.errors import UsageError

FILENAME = "course.toml"
KEYS = {"roster": str, "runs": str, "jobs": int, "timeout": (int, float), "lang": str, "gradebook": str,
        "share_marker": str}
#: A course.toml holds a few keys; anything bigger is not one.
MAX_BYTES = 64 * 1024
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


def find(start: Path | None = None, home: Path | None = None) -> Path | None:
    """The nearest course.toml from `start` (default: the cwd) upward, stopping after a
    repository's root (a folder holding .git) or `home` (default: the user's), or None."""
    here = (start or Path.cwd()).resolve()
    try:
        home = (home or Path.home()).resolve()
    except RuntimeError:    # no home directory known: stop only at a repository
        home = None
    for folder in (here, *here.parents):
        candidate = folder / FILENAME
        try:
            if candidate.is_file() or candidate.is_symlink():
                return candidate
            if folder == home or (folder / ".git").exists():
                return None
        except PermissionError:
            continue    # a folder this user may not enter holds no course of theirs
    return None


def trusted_text(path: Path, uid: int | None = None) -> str:
    """The file's text when only its reader (or root) can have written it: owned by `uid` (default:
    this process's) or root, not writable by group or others, and a symlink to it owned so too.
    Read from the descriptor that was checked, so the file cannot be swapped in between."""
    uid = os.geteuid() if uid is None else uid
    trusted = {uid, 0}
    fix = f"make it yours and private (`chown {uid} {path}; chmod go-w {path}`) or run grade elsewhere"
    try:
        link = path.lstat()
        if stat.S_ISLNK(link.st_mode) and link.st_uid not in trusted:
            raise UsageError(f"{path} is a symlink owned by uid {link.st_uid}, not by you or root, so it is "
                             f"not taken as the course's configuration: {fix}")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise UsageError(f"cannot read the course configuration {path}: {err.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{path} is not a regular file, so it is not taken as the course's "
                             f"configuration: {fix}")
        if info.st_uid not in trusted:
            raise UsageError(f"{path} is owned by uid {info.st_uid}, not by you or root, so it is not "
                             f"taken as the course's configuration (it sets where runs and grades go): {fix}")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise UsageError(f"{path} is writable by {'others' if info.st_mode & stat.S_IWOTH else 'its group'} "
                             f"(mode {stat.S_IMODE(info.st_mode):04o}), so it is not taken as the course's "
                             f"configuration: {fix}")
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise UsageError(f"{path} is over {MAX_BYTES // 1024} KiB: a course.toml holds a few keys")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(f"cannot read the course configuration {path}: {err}") from None


def load(path: Path) -> Course:
    try:
        data = tomllib.loads(trusted_text(path))
    except tomllib.TOMLDecodeError as err:
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


def current(start: Path | None = None, home: Path | None = None) -> Course | None:
    path = find(start, home)
    return load(path) if path else None
