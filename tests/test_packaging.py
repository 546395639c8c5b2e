"""`pip install .` (not editable) gives a working `grade` and `lab notebook`: the templates and
notebooks (top-level folders of the checkout), catalogs, lab definitions and fixtures ship as
package data, nothing is read from the checkout."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import ROOT


@pytest.mark.slow
def test_an_installed_copy_grades_and_renders_every_format(tmp_path):
    wheels, target, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    # a copy of the checkout: setuptools writes build/ into the tree it builds
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "runs", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(source)], check=True, capture_output=True, cwd=tmp_path)
    [wheel] = wheels.glob("*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, cwd=tmp_path)
    fixture = tmp_path / "solved.json"              # a copy: the checkout is not there for it
    fixture.write_text((ROOT / "labs" / "lab3" / "fixtures" / "solved.json").read_text())

    def grade(*args):
        code = "import sys; from grader.cli.main import grade; sys.argv = ['grade', *sys.argv[1:]]; grade()"
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                              cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})

    where = subprocess.run([sys.executable, "-c", "import grader, labs; print(grader.__file__, labs.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(target)})
    assert all(Path(p).is_relative_to(target) for p in where.stdout.split()), where.stdout
    done = grade("lab3", "--from-evidence", str(fixture), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["score"] == 10
    for fmt in ("html", "csv", "table"):
        done = grade("lab3", "--from-evidence", str(fixture), "--format", fmt)
        assert done.returncode == 0 and "snap-offline" in done.stdout, done.stderr
    started = subprocess.run(
        [sys.executable, "-c", "import sys; from grader.cli.main import lab; sys.argv = ['lab', *sys.argv[1:]]; lab()",
         "start", "lab3", "--host", "test:///default"],
        capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert started.returncode == 0, started.stderr      # the libvirt XML templates are there too
    written = subprocess.run(
        [sys.executable, "-c", "import sys; from grader.cli.main import lab; sys.argv = ['lab', *sys.argv[1:]]; lab()",
         "notebook", "lab3", "--lang", "es", "--out", str(tmp_path / "nb")],
        capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert written.returncode == 0, written.stderr      # the notebooks ship: a student copy is written
    notebook = json.loads((tmp_path / "nb" / "lab3.ipynb").read_text())
    assert any("instantánea" in "".join(c["source"]) for c in notebook["cells"])


def test_every_engine_package_is_shipped():
    """pyproject.toml lists the engine's packages by hand (it maps top-level folders into the
    wheel, which setuptools' discovery cannot): a new sub-package must be listed there."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "grader").rglob("__init__.py")}
    assert found - listed == set(), f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert {"labs", "grader.shipped.templates", "grader.shipped.notebooks"} <= listed
