"""The course's shared export, as `lab start` takes it (lab1, lab4): --share FORMAT://HOST/PATH or
the LAB_SHARE_* variables that `lab hosts env` prints. Pure: text in, a pool source out."""
from __future__ import annotations

import re
from dataclasses import dataclass

from grader.errors import UsageError

#: netfs formats the course uses (a classroom NFS export, the lab hosts' GlusterFS volume).
FORMATS = ("nfs", "glusterfs")

_SPEC = re.compile(r"^(?P<format>[A-Za-z]+)://(?P<host>[^/\s:]+)(?P<path>/[^\s]*)$")

HOW = ("pass --share FORMAT://HOST/PATH (e.g. glusterfs://server/labshare or "
       "nfs://10.0.0.5/srv/lab) or set LAB_SHARE_HOST, LAB_SHARE_PATH and LAB_SHARE_FORMAT "
       '(on lab hosts: eval "$(lab hosts env)")')


@dataclass(frozen=True)
class Share:
    """Where a netfs pool's data lives: <source><host name/><dir path/><format type/></source>."""

    format: str
    host: str
    path: str

    def as_source(self) -> dict:
        return {"host": self.host, "dir": self.path, "format": self.format}

    def __str__(self) -> str:
        return f"{self.format}://{self.host}{self.path}"


def parse(spec: str) -> Share:
    match = _SPEC.match(spec.strip())
    if not match:
        raise UsageError(f"malformed --share {spec!r}: {HOW}")
    return _checked(match["format"], match["host"], match["path"])


def from_environment(env) -> Share | None:
    values = [env.get(k, "").strip() for k in ("LAB_SHARE_FORMAT", "LAB_SHARE_HOST", "LAB_SHARE_PATH")]
    if not any(values):
        return None
    if not all(values):
        raise UsageError(f"LAB_SHARE_FORMAT, LAB_SHARE_HOST and LAB_SHARE_PATH must all be set: {HOW}")
    fmt, host, path = values
    if not path.startswith("/"):
        raise UsageError(f"LAB_SHARE_PATH must start with '/', not {path!r}: {HOW}")
    return _checked(fmt, host, path)


def resolve(option: str | None, env, needed_by: str = "lab4-shared") -> Share:
    """--share wins over the environment; neither is a usage error that says what to pass."""
    found = parse(option) if option else from_environment(env)
    if found is None:
        raise UsageError(f"the course's shared export is needed for {needed_by}: {HOW}")
    return found


def _checked(fmt: str, host: str, path: str) -> Share:
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"share format {fmt!r} is not one of {', '.join(FORMATS)}: {HOW}")
    return Share(fmt, host, path.rstrip("/") or "/")
