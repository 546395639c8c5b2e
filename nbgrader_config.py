"""nbgrader configuration: the repository root is the course directory.

nbgrader's layout is `<source>/<assignment>/<notebook>`; with `notebooks/` as the source directory,
`notebooks/labN/labN.ipynb` is notebook `labN` of assignment `labN` (lab1..lab4), and the engine's
lab ids, nbgrader's assignment ids and the notebook names are one and the same.

The gradebook and the generated directories (release/, submitted/, autograded/, feedback/) live
under the course directory and are git-ignored. The exchange (where students fetch and submit)
stays nbgrader's default (/srv/nbgrader/exchange) unless the instructor sets `c.Exchange.root`;
tests pass `--Exchange.root=...` with a temporary directory. The student version is in the course's
language only (grader.notebook.release). `nbgrader autograde` runs each student's kernel in a
bubblewrap sandbox (no network, no view of the gradebook, the submissions or the instructor's home,
a private copy of the one submission, bounded time and memory), and refuses in one line when bwrap
is missing (grader.notebook.sandboxkernel; limits as `c.Sandbox.<name>`, e.g. `c.Sandbox.wall`).
Run nbgrader's commands at the repository root as `.venv/bin/nbgrader ...` (no venv to activate:
PATH is completed below). The workflow is in course.md (instructor part) and tested end to end by
tests/test_nbgrader_workflow.py; the sandbox by tests/test_autograde_sandbox.py.
"""
import os
import sys

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

#: Wherever nbgrader is started from, the course is the folder of this file (also in a copy).
COURSE_DIR = os.path.dirname(os.path.abspath(__file__))

#: nbgrader runs `alembic` (the gradebook's migrations) from PATH: `.venv/bin/nbgrader ...` without an
#: activated venv would not find it, so the interpreter's own bin directory goes first on PATH.
_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

c.CourseDirectory.root = COURSE_DIR
c.CourseDirectory.source_directory = "notebooks"
c.CourseDirectory.course_id = "kvm-storage"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(COURSE_DIR, "gradebook.db")
# Knowledge exercises are short; a notebook that hangs under autograde must not block a class.
c.ExecutePreprocessor.timeout = 120

# One language per student: generate_assignment keeps the course's language only (course.toml's
# `lang`, else $LAB_LANG, else English; `--OneLanguage.lang=es` overrides): grader.notebook.release.
from grader.notebook import release  # noqa: E402 - after PATH: this file is read by nbgrader's Python

release.configure(c, COURSE_DIR)

# Autograde runs each student's kernel in a bubblewrap sandbox (no network, no view of the
# gradebook, the submissions, the instructor's home; bounded time and memory), or refuses in one
# line when bwrap is missing: grader.notebook.sandboxkernel. Limits: c.Sandbox.memory, .cpu, .wall...
from grader.notebook import sandboxkernel  # noqa: E402

sandboxkernel.configure(c)
