"""The core needs no libvirt: in a Python where `import libvirt` fails, every core module and
renderer imports, and a whole archived run is regraded and re-rendered from its evidence."""
from __future__ import annotations

import json
import subprocess
import sys

from grader.cli.main import grade
from grader.testing import simclass
from toyhelp import LABS_DIR, host, run

NO_LIBVIRT = """
import importlib.abc, sys
class NoLibvirt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("libvirt", "libvirtmod"):
            raise ImportError("No module named 'libvirt' (this Python has none)")
sys.meta_path.insert(0, NoLibvirt())
"""

PURE_MODULES = ["grader.core.labdef", "grader.core.evidence", "grader.core.xmlmodel", "grader.core.checks",
                "grader.core.scoring", "grader.core.results", "grader.core.i18n", "grader.core.uris",
                "grader.core.text", "grader.render", "grader.classroom.session", "grader.classroom.archive",
                "grader.classroom.roster", "grader.cli.main"]


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_LIBVIRT + code, *args], capture_output=True, text=True,
                          env={"LAB_LABS_DIR": str(LABS_DIR), "PATH": "/usr/bin:/bin", "LANG": "C"})


def test_libvirt_really_is_missing_in_that_python():
    done = python("import libvirt")
    assert done.returncode == 1 and "No module named 'libvirt'" in done.stderr


def test_the_core_and_every_renderer_import_without_libvirt():
    code = ("import importlib, sys\n"
            f"for name in {PURE_MODULES!r}: importlib.import_module(name)\n"
            "from grader import render\n"
            "for name in render.REGISTRY: render.get(name)\n"
            "from grader.core import labdef\n"
            "for lab in labdef.DEFAULT.all(): pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('libvirt')))")
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_archived_run_regrades_identically_without_libvirt(tmp_path):
    roster = simclass.write_roster(tmp_path / "roster.csv", [("ana", host("right")), ("ben", host("untouched"))])
    status, graded, _ = run(grade, "toy", "--roster", roster, "--format", "json", "--out", tmp_path / "runs")
    assert status == 0
    [run_dir] = (tmp_path / "runs").iterdir()
    code = ("import sys\nfrom grader.cli.main import grade\n"
            "sys.argv = ['grade', 'toy', '--from-evidence', sys.argv[1], '--format', sys.argv[2]]\ngrade()")
    regraded = python(code, str(run_dir), "json")
    assert regraded.returncode == 0, regraded.stderr
    assert json.loads(regraded.stdout) == json.loads(graded)
    for fmt in ("csv", "html", "table"):
        rendered = python(code, str(run_dir), fmt)
        assert rendered.returncode == 0 and "ana" in rendered.stdout, rendered.stderr
