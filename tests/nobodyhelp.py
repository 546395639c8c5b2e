"""Running this project's commands as `nobody`, from a checkout anywhere.

The checkout (and its .venv) may live in a directory only root can enter (`mktemp -d`), so the
packages a command imports are copied where anyone can read them, and the base interpreter runs
them in isolated mode, from a working directory of nobody's own.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
#: What `grade` and `lab` import.
PACKAGES = ("grader", "labs", "libvirt", "lxml", "jinja2", "markupsafe", "click", "rich", "pygments",
            "markdown_it", "mdurl", "yaml")


def world_readable_site() -> Path:
    """A copy of the packages the commands import, readable by anyone (remove it after use)."""
    site = Path(tempfile.mkdtemp(prefix="nobody-site-"))
    site.chmod(0o755)
    libvirt_dir = Path(importlib.util.find_spec("libvirt").origin).parent
    for name in PACKAGES:
        origin = Path(importlib.util.find_spec(name).origin)
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, site / name, ignore=shutil.ignore_patterns("__pycache__"))
    for module in libvirt_dir.glob("libvirt*"):           # libvirt-python is modules, not a package
        if module.is_file():
            shutil.copy(module, site / module.name)
    for path in [site, *site.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return site


def command_argv(site: Path, command: str) -> list[str]:
    """`grade` or `lab` run by the base interpreter over the copy (never the checkout's venv)."""
    code = f"import sys; sys.path[:0] = [{str(site)!r}]; from grader.cli.main import {command}; {command}()"
    return [os.path.realpath(sys.executable), "-I", "-c", code]


def nobody_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="nobody-"))
    home.chmod(0o777)
    return home


def as_nobody(*argv, home: Path, env: dict | None = None, timeout: float = 60):
    """Run argv as nobody, in `home` (its working directory and HOME)."""
    base = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C", "LAB_LANG": "en"}
    return subprocess.run([*NOBODY, *argv], capture_output=True, text=True, env={**base, **(env or {})},
                          timeout=timeout, cwd=home)
