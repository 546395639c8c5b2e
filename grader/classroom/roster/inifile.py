"""An Ansible INI inventory (`.ini`, `hosts`, no extension): host lines with `key=value` variables,
`[group:vars]` sections and `[group:children]`. Variables are taken from the host line, then its
groups (`[group:vars]`, a child group's before its parent's), then `all`."""
from __future__ import annotations

import re
import shlex

from grader.classroom.roster.records import Raw, from_host_vars


def parse(text: str, problems: list[str], roles: tuple[str, ...] = ()) -> list[Raw]:
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
        raw = from_host_vars(name, merged, entry["line"], problems)
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
