"""The instructor's nbgrader workflow, run with nbgrader's own commands in a copy of the course.

Shared by tests/test_nbgrader_workflow.py (which asserts the scores, the release's language and
that autograde leaves a libvirt host alone) and tests/test_browser.py (which opens the feedback
HTML). A copy, never the repository itself: the workflow writes
release/, submitted/, autograded/, feedback/ and a gradebook, and the tests must not touch an
instructor's real ones. Besides the real labs it adds `lab0`, a small bilingual notebook with one
knowledge exercise, a "check my work" cell and a chart, so the workflow is exercised even while the real
notebooks are being written.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader import ROOT

BIN = Path(sys.executable).parent
COURSE_ID = "kvm-storage"

#: Students and what they submit: the release with the solutions filled in (full marks), and the
#: release untouched (no marks).
STUDENTS = ("right", "wrong")


def real_labs() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "notebooks").glob("lab*/lab*.ipynb")
                  if p.stem == p.parent.name)


def _meta(grade_id: str, **flags) -> dict:
    nbgrader = {"grade": False, "solution": False, "locked": False, "grade_id": grade_id,
                "schema_version": 3, **flags}
    return {"nbgrader": nbgrader}


def lab0_notebook():
    """The smallest notebook that follows notebooks/README.md: pairs, language cell, check cell."""
    en, es = {"tags": ["lang-en"]}, {"tags": ["lang-es"]}
    nb = new_notebook(cells=[
        new_markdown_cell("# Lab 0: thin provisioning in one function", metadata=en),
        new_markdown_cell("# Lab 0: el aprovisionamiento ligero en una función", metadata=es),
        new_code_cell('LANG = "en"\nfrom grader.notebook import check_my_work, set_language\n'
                      "set_language(LANG)"),
        new_code_cell('check_my_work("lab3", "snap-offline")'),
        new_code_cell('%matplotlib inline\nimport matplotlib.pyplot as plt\n\n'
                      'plt.bar(["raw", "qcow2"], [1024, 1])\nplt.title("MiB allocated")\nplt.show()'),
        new_markdown_cell("Write `saved(volumes)`: bytes saved, from (capacity, allocation) pairs.",
                          metadata=en),
        new_markdown_cell("Escribe `saved(volumes)`: bytes ahorrados, a partir de pares "
                          "(capacidad, asignado).", metadata=es),
        new_code_cell("def saved(volumes):\n    ### BEGIN SOLUTION\n"
                      "    return sum(c - a for c, a in volumes)\n    ### END SOLUTION",
                      metadata=_meta("saved", solution=True)),
        new_code_cell("assert saved([(10, 1)]) == 9\n### BEGIN HIDDEN TESTS\n"
                      "assert saved([(10, 1), (5, 5)]) == 9\n### END HIDDEN TESTS",
                      metadata=_meta("saved-test", grade=True, locked=True, points=2)),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@dataclass
class Course:
    root: Path
    exchange: Path
    assignments: list[str]
    log: list[str]
    lang: str = "en"
    host_env: dict[str, str] = field(default_factory=dict)

    def attempt(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """One command (nbgrader or lab) from the venv, as typed without an activated venv (the
        venv's bin is not on PATH: nbgrader_config.py must find `alembic` itself)."""
        path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != BIN]
        env = {**os.environ, "PATH": os.pathsep.join(path)}
        for leaked in ("NBGRADER_EXECUTION", "LAB_LANG", "LIBVIRT_DEFAULT_URI", "LAB_URI_A", "LAB_URI_B"):
            env.pop(leaked, None)   # the course's own settings decide, not the test runner's shell
        env.update(self.host_env)
        proc = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd or self.root, env=env,
                              capture_output=True, text=True, timeout=600)
        self.log.append(f"$ {' '.join(args)}\n{proc.stdout}{proc.stderr}")
        return proc

    def run(self, *args: str, cwd: Path | None = None) -> str:
        """`attempt`, failing with the command's output if it fails."""
        proc = self.attempt(*args, cwd=cwd)
        assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout + proc.stderr

    def nbgrader(self, *args: str, cwd: Path | None = None) -> str:
        return self.run("nbgrader", *args, f"--Exchange.root={self.exchange}", cwd=cwd)

    def scores(self) -> dict[tuple[str, str], tuple[float, float]]:
        """(assignment, student) -> (score, max score), read from nbgrader's gradebook."""
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            return {(a, s): (gb.find_submission(a, s).score, gb.find_submission(a, s).max_score)
                    for a in self.assignments for s in STUDENTS}

    def feedback(self, assignment: str, student: str) -> Path:
        return self.root / "feedback" / student / assignment / f"{assignment}.html"

    def autograded(self, assignment: str, student: str):
        return nbformat.read(self.root / "autograded" / student / assignment / f"{assignment}.ipynb", 4)


def make_course(tmp: Path, lang: str = "en") -> Course:
    """A copy of the course directory (config + notebooks) with lab0 added; a Spanish course says
    so in its course.toml, as an instructor would."""
    root = tmp / "course"
    shutil.copytree(ROOT / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(ROOT / "nbgrader_config.py", root)
    if lang != "en":
        (root / "course.toml").write_text(f'lang = "{lang}"\n')
    (root / "notebooks" / "lab0").mkdir()
    nbformat.write(lab0_notebook(), root / "notebooks" / "lab0" / "lab0.ipynb")
    exchange = tmp / "exchange"
    exchange.mkdir()
    return Course(root, exchange, ["lab0", *real_labs()], [], lang)


def run_workflow(tmp: Path, lang: str = "en", labs: list[str] | None = None,
                 host_env: dict[str, str] | None = None) -> Course:
    """generate, release, fetch + submit, collect, autograde, generate feedback, in one language.

    `labs` (default: every lab with a notebook) come after lab0; `host_env` is given to every
    nbgrader command, as an instructor's shell that names a libvirt host would."""
    course = make_course(tmp, lang)
    course.host_env = dict(host_env or {})
    if labs is not None:
        course.assignments = ["lab0", *labs]
    for assignment in course.assignments:
        course.nbgrader("generate_assignment", assignment, "--force")
        course.nbgrader("release_assignment", assignment, "--force")
    # lab0's "right" student goes through the exchange as a student would (fetch, answer, submit,
    # collect); every other submission is copied straight into submitted/, as an instructor does
    # with files gathered some other way. This keeps the test to one exchange round trip.
    home = tmp / "home" / "right"
    home.mkdir(parents=True)
    course.nbgrader("fetch_assignment", "lab0", f"--course={COURSE_ID}", cwd=home)
    _answer(course, home / "lab0" / "lab0.ipynb", "lab0", "right")
    course.nbgrader("submit", "lab0", f"--course={COURSE_ID}", "--student=right", cwd=home)
    course.nbgrader("collect", "lab0")
    for assignment in course.assignments:
        for student in STUDENTS:
            folder = course.root / "submitted" / student / assignment
            if not folder.exists():
                shutil.copytree(course.root / "release" / assignment, folder)
                _answer(course, folder / f"{assignment}.ipynb", assignment, student)
    for assignment in course.assignments:
        course.nbgrader("autograde", assignment, "--create")
        course.nbgrader("generate_feedback", assignment)
    return course


def _answer(course: Course, released: Path, assignment: str, student: str) -> None:
    """"right" fills the release's solution cells with the instructor's solutions; "wrong"
    hands the release in untouched."""
    if student == "right":
        source = nbformat.read(course.root / "notebooks" / assignment / f"{assignment}.ipynb", 4)
        nbformat.write(fill_solutions(nbformat.read(released, 4), source), released)


def fill_solutions(nb, source):
    """The student's answers: each solution cell gets the instructor's solution (markers removed)."""
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                 if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = "\n".join(line for line in solutions[grade_id].splitlines()
                                    if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return nb
