"""A student's facts as a roster file gives them, before they are checked, and the rules the two
inventory formats share (which hosts are students', a host's libvirt URI)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Raw:
    """A student's facts as read, before validation; `where` maps each role to its line."""

    student: str
    line: int
    hosts: dict[str, str] = field(default_factory=dict)
    where: dict[str, int] = field(default_factory=dict)
    email: str | None = None
    name: str | None = None


def host_uri(name: str, variables: dict[str, str]) -> str:
    """The documented rule: libvirt_uri, else qemu+ssh://[ansible_user@]ansible_host[:port]/system."""
    if variables.get("libvirt_uri"):
        return variables["libvirt_uri"]
    host = variables.get("ansible_host") or name
    user = variables.get("ansible_user")
    port = variables.get("ansible_port")
    return f"qemu+ssh://{user + '@' if user else ''}{host}{':' + port if port else ''}/system"


def from_host_vars(name: str, variables: dict, line: int, problems: list[str]) -> Raw | None:
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
    raw = Raw(student=student, line=line, email=variables.get("student_email") or None,
               name=variables.get("student_name") or None)
    raw.hosts[role.upper() if len(role) == 1 else role] = uri
    raw.where[role.upper() if len(role) == 1 else role] = line
    return raw
