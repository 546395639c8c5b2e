"""An Ansible YAML inventory (`.yml`, `.yaml`): `all:` / `hosts:` / `children:` / `vars:`. An
inventory whose aliases expand beyond MAX_YAML_NODES values is refused (a "billion laughs")."""
from __future__ import annotations

from grader.classroom.roster.records import Raw, from_host_vars

MAX_YAML_NODES = 100_000


def parse(text: str, problems: list[str], roles: tuple[str, ...] = ()) -> list[Raw]:
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
        raw = from_host_vars(name, {k: str(v) for k, v in entry["vars"].items()}, entry["line"], problems)
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
