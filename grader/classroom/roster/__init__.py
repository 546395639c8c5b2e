"""Roster: who is in the class and which libvirt URI is each of their hosts, per role.

Three formats, chosen by the file's extension (or content, when the extension says nothing),
one module each behind PARSERS: csvfile (`.csv`), inifile (Ansible INI inventory: `.ini`,
`hosts`, no extension) and yamlfile (Ansible YAML inventory: `.yml`, `.yaml`). Each turns the
text into records (records.Raw); this module merges and checks them.

In an inventory, only hosts that carry a `student` variable are students' hosts (the NFS server
and the instructor's machine are skipped); each such host also needs `role` (A or B). A host's
libvirt URI is its `libvirt_uri` variable when set, else `qemu+ssh://[ansible_user@]ansible_host
[:ansible_port]/system` (ansible_host defaults to the inventory name). Variables are taken from
the host line, then its groups (`[group:vars]`, a child group's before its parent's), then `all`.
Optional `student_email` and `student_name` fill the email and name columns.

Every problem in the file is reported at once, each with its line number, as one UsageError:
the instructor fixes the file in one go and nothing is graded from a bad roster. A URI that
could run a program or names a parameter the grader does not need is such a problem
(grader.core.uris): rosters are often filled from what students type.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.classroom.roster import csvfile, inifile, yamlfile
from grader.classroom.roster.records import Raw
from grader.core.uris import uri_problem
from grader.errors import UsageError

#: A student id: it becomes a file name, a gradebook key and a CSV cell (no leading = + - @).
STUDENT_ID = re.compile(r"[^\W_][\w.@+-]{0,99}")
#: Each format and the module that reads it: parse(text, problems, roles) -> [Raw].
PARSERS = {"csv": csvfile.parse, "ini": inifile.parse, "yaml": yamlfile.parse}


@dataclass(frozen=True)
class Entry:
    """One student: their hosts by role, and how the gradebook identifies them."""

    student: str
    hosts: dict[str, str]
    email: str | None = None
    name: str | None = None
    line: int = 0

    @property
    def identifier(self) -> str:
        """The gradebook's key for this student: the email if the roster has one."""
        return self.email or self.student


@dataclass(frozen=True)
class Roster:
    source: Path
    entries: tuple[Entry, ...]

    def students(self) -> list[str]:
        return [e.student for e in self.entries]

    def select(self, students: list[str] | tuple[str, ...]) -> "Roster":
        """Only these students, in roster order; an unknown name is a usage error."""
        known = set(self.students())
        unknown = [s for s in students if s not in known]
        if unknown:
            raise UsageError(f"not in the roster {self.source}: {', '.join(unknown)}; "
                             "check the spelling against its student column")
        wanted = set(students)
        return Roster(self.source, tuple(e for e in self.entries if e.student in wanted))


class RosterProblems(UsageError):
    """All the problems of one roster file, one per line."""

    def __init__(self, source: Path, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"the roster {source} has {len(problems)} problem(s); fix them and run again "
                         f"(nothing was graded):\n{lines}")


def load(path: str | Path, roles: tuple[str, ...], known_roles: tuple[str, ...] = ("A", "B"),
         allow: frozenset[str] = frozenset()) -> Roster:
    """Read a roster for a lab that needs `roles`; columns for other known roles are ignored.
    Every URI passes grader.core.uris (`allow`: parameters --allow-uri-param adds)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"no roster at {path}: give a CSV or an Ansible inventory with --roster") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read the roster {path}: {err}") from None
    problems: list[str] = []
    raw = PARSERS[detect_format(path, text)](text, problems, roles)
    entries = validate(raw, roles, set(known_roles) | set(roles), problems, allow)
    if problems:
        raise RosterProblems(path, problems)
    if not entries:
        raise UsageError(f"the roster {path} lists no students: add one row (CSV) or one host with a "
                         "`student` variable (inventory) per student")
    return Roster(path, tuple(entries))


def detect_format(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".yml", ".yaml"):
        return "yaml"
    if suffix in (".ini", ".cfg", ".inventory"):
        return "ini"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.lower().startswith("student,") or first.lower() == "student":
        return "csv"
    if first in ("---", "all:") or first.endswith(":") and "=" not in first:
        return "yaml"
    return "ini"


def validate(raws: list[Raw], roles: tuple[str, ...], known: set[str], problems: list[str],
             allow: frozenset[str] = frozenset()) -> list[Entry]:
    """Merge inventory hosts into students and check every fact, collecting all problems; a URI
    is data (grader.core.uris.uri_problem: only the transports and parameters the grader needs)."""
    merged: dict[str, Raw] = {}
    for raw in raws:
        if not raw.student:
            problems.append(f"line {raw.line}: empty student")
            continue
        if not STUDENT_ID.fullmatch(raw.student):
            problems.append(f"line {raw.line}: student {raw.student!r} must start with a letter or digit "
                            "and hold only letters, digits and . _ - + @ (at most 100)")
        first = merged.get(raw.student)
        if first is None:
            merged[raw.student] = raw
        else:
            for role, uri in raw.hosts.items():
                if role in first.hosts:
                    problems.append(f"line {raw.line}: duplicate student {raw.student!r} "
                                    f"(role {role} already given on line {first.where[role]})")
                else:
                    first.hosts[role], first.where[role] = uri, raw.where[role]
            if not raw.hosts:
                problems.append(f"line {raw.line}: duplicate student {raw.student!r} (first on line {first.line})")
            first.email = first.email or raw.email
            first.name = first.name or raw.name
    by_case: dict[str, Raw] = {}
    for raw in merged.values():
        other = by_case.setdefault(raw.student.casefold(), raw)
        if other is not raw:
            problems.append(f"line {raw.line}: students {other.student!r} (line {other.line}) and "
                            f"{raw.student!r} differ only by case: gradebooks and file names may not "
                            "tell them apart; rename one")
    entries = []
    for raw in merged.values():
        for role, uri in raw.hosts.items():
            if role not in known:
                problems.append(f"line {raw.where[role]}: student {raw.student!r}: unknown role {role!r} "
                                f"(roles are {', '.join(sorted(known))})")
                continue
            problem = uri_problem(uri, allow)
            if problem:
                problems.append(f"line {raw.where[role]}: student {raw.student!r}, role {role}: {problem}")
        for role in roles:
            if role not in raw.hosts:
                problems.append(f"line {raw.line}: student {raw.student!r} has no host for role {role}")
        if raw.email and "@" not in raw.email:
            problems.append(f"line {raw.line}: student {raw.student!r}: email {raw.email!r} has no @")
        entries.append(Entry(student=raw.student, line=raw.line, email=raw.email, name=raw.name,
                             hosts={r: raw.hosts[r] for r in roles if r in raw.hosts}))
    return entries
