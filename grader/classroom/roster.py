"""Roster: who is in the class and which libvirt URI is each of their hosts, per role.

Three formats, chosen by the file's extension (or content, when the extension says nothing):

* CSV (`.csv`): a header `student,A[,B][,email][,name]`, one row per student, one column per
  role holding a libvirt URI.
* Ansible INI inventory (`.ini`, `hosts`, no extension): host lines with `key=value` variables,
  `[group:vars]` sections and `[group:children]`.
* Ansible YAML inventory (`.yml`, `.yaml`): `all:` / `hosts:` / `children:` / `vars:`.

In an inventory, only hosts that carry a `student` variable are students' hosts (the NFS server
and the instructor's machine are skipped); each such host also needs `role` (A or B). A host's
libvirt URI is its `libvirt_uri` variable when set, else `qemu+ssh://[ansible_user@]ansible_host
[:ansible_port]/system` (ansible_host defaults to the inventory name). Variables are taken from
the host line, then its groups (`[group:vars]`, a child group's before its parent's), then `all`.
Optional `student_email` and `student_name` fill the email and name columns.

Every problem in the file is reported at once, each with its line number, as one UsageError:
the instructor fixes the file in one go and nothing is graded from a bad roster.
"""
from __future__ import annotations

import csv
import io
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from grader.core.uris import check_uri
from grader.errors import UsageError

_ROLE = re.compile(r"^[A-Z]$")
#: A student id: it becomes a file name, a gradebook key and a CSV cell (no leading = + - @).
STUDENT_ID = re.compile(r"[^\W_][\w.@+-]{0,99}")
#: An inventory whose YAML aliases expand beyond this many values is refused (a "billion laughs").
MAX_YAML_NODES = 100_000
META_COLUMNS = ("student", "email", "name")


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


def load(path: str | Path, roles: tuple[str, ...], known_roles: tuple[str, ...] = ("A", "B")) -> Roster:
    """Read a roster for a lab that needs `roles`; columns for other known roles are ignored."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"no roster at {path}: give a CSV or an Ansible inventory with --roster") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read the roster {path}: {err}") from None
    kind = detect_format(path, text)
    parse = {"csv": _parse_csv, "ini": _parse_ini, "yaml": _parse_yaml}[kind]
    problems: list[str] = []
    raw = parse(text, problems, roles)
    entries = _validate(raw, roles, set(known_roles) | set(roles), problems)
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


@dataclass
class _Raw:
    """A student's facts as read, before validation; `where` maps each role to its line."""

    student: str
    line: int
    hosts: dict[str, str] = field(default_factory=dict)
    where: dict[str, int] = field(default_factory=dict)
    email: str | None = None
    name: str | None = None


# --- CSV ----------------------------------------------------------------------------------------

def _parse_csv(text: str, problems: list[str], roles: tuple[str, ...]) -> list[_Raw]:
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
        raw = _Raw(student=values.get("student", ""), line=line,
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


# --- Ansible INI inventory ----------------------------------------------------------------------

def _parse_ini(text: str, problems: list[str], roles: tuple[str, ...] = ()) -> list[_Raw]:
    hosts: dict[str, dict] = {}          # name -> {"vars": {}, "groups": [], "line": n}
    group_vars: dict[str, dict] = {}
    children: dict[str, list[str]] = {}  # group -> child groups
    section, kind = "ungrouped", "hosts"
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            name = stripped[1:-1].strip()
            section, _, kind = name.partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "vars", "children"):
                problems.append(f"line {number}: unknown section kind {kind!r} (use :vars or :children)")
            continue
        try:
            words = shlex.split(stripped, comments=True)
        except ValueError as err:
            problems.append(f"line {number}: cannot split {stripped!r}: {err}")
            continue
        if kind == "vars":
            key, sep, value = stripped.partition("=")
            if not sep:
                problems.append(f"line {number}: expected key=value in [{section}:vars]")
                continue
            group_vars.setdefault(section, {})[key.strip()] = _unquote(value.strip())
        elif kind == "children":
            children.setdefault(section, []).append(words[0])
        elif words:
            name, assigns = words[0], words[1:]
            if re.search(r"\[[^\]]*:[^\]]*\]", name):
                problems.append(f"line {number}: host pattern {name!r}: list students' hosts one per "
                                "line, each with its own student= and role=")
                continue
            entry = hosts.setdefault(name, {"vars": {}, "groups": [], "line": number})
            entry["groups"].append(section)
            for word in assigns:
                key, sep, value = word.partition("=")
                if not sep:
                    problems.append(f"line {number}: expected key=value, got {word!r}")
                    continue
                entry["vars"][key] = value
    parents: dict[str, list[str]] = {}
    for parent, kids in children.items():
        for kid in kids:
            parents.setdefault(kid, []).append(parent)
    out = []
    for name, entry in hosts.items():
        merged = dict(group_vars.get("all", {}))
        for group in reversed(_ancestry(entry["groups"], parents)):
            merged.update(group_vars.get(group, {}))
        merged.update(entry["vars"])
        raw = _from_host_vars(name, merged, entry["line"], problems)
        if raw is not None:
            out.append(raw)
    return out


def _ancestry(groups: list[str], parents: dict[str, list[str]]) -> list[str]:
    """A host's groups, nearest first, then their parents (so nearer vars win when reversed)."""
    order, queue = [], list(groups)
    while queue:
        group = queue.pop(0)
        if group not in order and group != "all":
            order.append(group)
            queue.extend(parents.get(group, []))
    return order


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


# --- Ansible YAML inventory ---------------------------------------------------------------------

def _parse_yaml(text: str, problems: list[str], roles: tuple[str, ...] = ()) -> list[_Raw]:
    import yaml

    try:
        root = yaml.compose(text)
        too_big = root is not None and _expanded_size(root) > MAX_YAML_NODES
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problems.append(f"{where}not valid YAML: {getattr(err, 'problem', err)}")
        return []
    except RecursionError:
        problems.append("line 1: the inventory nests too deep to be an inventory: write it flat")
        return []
    if root is None:
        return []
    if too_big:
        problems.append(f"line 1: the inventory's YAML aliases (*name) expand to more than "
                        f"{MAX_YAML_NODES} values: write the hosts out instead")
        return []
    if not isinstance(root, yaml.MappingNode):
        problems.append(f"line {root.start_mark.line + 1}: an inventory starts with groups (all:)")
        return []
    hosts: dict[str, dict] = {}

    def walk_group(node, inherited: dict):
        if node is None or isinstance(node, yaml.ScalarNode):
            return
        if not isinstance(node, yaml.MappingNode):
            problems.append(f"line {node.start_mark.line + 1}: a group must be a mapping")
            return
        section = {k.value: v for k, v in node.value}
        variables = dict(inherited)
        variables.update(_plain(section.get("vars")) or {})
        host_map = section.get("hosts")
        if isinstance(host_map, yaml.MappingNode):
            for key, value in host_map.value:
                entry = hosts.setdefault(key.value, {"vars": {}, "line": key.start_mark.line + 1})
                own = _plain(value) or {}
                entry["vars"] = {**variables, **entry["vars"], **own}
        kids = section.get("children")
        if isinstance(kids, yaml.MappingNode):
            for _, child in kids.value:
                walk_group(child, variables)

    for _, group in root.value:
        walk_group(group, {})
    out = []
    for name, entry in hosts.items():
        raw = _from_host_vars(name, {k: str(v) for k, v in entry["vars"].items()}, entry["line"], problems)
        if raw is not None:
            out.append(raw)
    return out


def _expanded_size(root) -> int:
    """How many nodes the document has once every alias is expanded, counted without expanding
    (a node reached through N aliases counts N times), stopping early past the limit."""
    import yaml

    sizes: dict[int, int] = {}

    def size(node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = MAX_YAML_NODES + 1   # a cycle counts as too big
        total = 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_YAML_NODES:
                break
        sizes[id(node)] = total
        return total

    return size(root)


def _plain(node):
    import yaml

    return yaml.safe_load(yaml.serialize(node)) if node is not None else None


# --- shared -------------------------------------------------------------------------------------

def host_uri(name: str, variables: dict[str, str]) -> str:
    """The documented rule: libvirt_uri, else qemu+ssh://[ansible_user@]ansible_host[:port]/system."""
    if variables.get("libvirt_uri"):
        return variables["libvirt_uri"]
    host = variables.get("ansible_host") or name
    user = variables.get("ansible_user")
    port = variables.get("ansible_port")
    return f"qemu+ssh://{user + '@' if user else ''}{host}{':' + port if port else ''}/system"


def _from_host_vars(name: str, variables: dict, line: int, problems: list[str]) -> _Raw | None:
    """One inventory host as a student's role; hosts without `student` are not students'."""
    student, role = variables.get("student"), variables.get("role")
    if not student:  # the NFS server, the instructor's machine: not a student's host
        return None
    if not role:
        problems.append(f"line {line}: host {name} of student {student} has no role= variable (A or B)")
        return None
    uri = host_uri(name, variables)
    if "{{" in uri:
        problems.append(f"line {line}: host {name}: libvirt_uri uses a Jinja template; write the URI out")
        return None
    raw = _Raw(student=student, line=line, email=variables.get("student_email") or None,
               name=variables.get("student_name") or None)
    raw.hosts[role.upper() if len(role) == 1 else role] = uri
    raw.where[role.upper() if len(role) == 1 else role] = line
    return raw


def _validate(raws: list[_Raw], roles: tuple[str, ...], known: set[str], problems: list[str]) -> list[Entry]:
    """Merge inventory hosts into students and check every fact, collecting all problems."""
    merged: dict[str, _Raw] = {}
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
    by_case: dict[str, _Raw] = {}
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
            try:
                check_uri(uri)
            except UsageError:
                problems.append(f"line {raw.where[role]}: student {raw.student!r}, role {role}: malformed "
                                f"libvirt URI {uri!r} (e.g. qemu+ssh://root@10.0.0.12/system)")
        for role in roles:
            if role not in raw.hosts:
                problems.append(f"line {raw.line}: student {raw.student!r} has no host for role {role}")
        if raw.email and "@" not in raw.email:
            problems.append(f"line {raw.line}: student {raw.student!r}: email {raw.email!r} has no @")
        entries.append(Entry(student=raw.student, line=raw.line, email=raw.email, name=raw.name,
                             hosts={r: raw.hosts[r] for r in roles if r in raw.hosts}))
    return entries
