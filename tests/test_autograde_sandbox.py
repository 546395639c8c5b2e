"""nbgrader's autograde runs each student's kernel in a bubblewrap sandbox (grader.notebook.sandbox).

Issue 19's escapes, as cells a student adds to a submission: rewrite a score in the gradebook
with sqlite3, read the instructor's ssh key, read another student's submission, open a socket to a "lab host" (a listener of
this test's on 127.0.0.1), run virsh copied under another name against it, write outside the
submission's private copy, see the instructor's LAB_*/LIBVIRT_*/SSH_* variables or the host's
processes. First the same cells run without the sandbox (as nbgrader ran them before): each
escape happens, so the cells really are escapes. Then nbgrader's own commands grade a course in
which one student's submission holds them: none happens, and the knowledge exercise is still
scored. The sandbox's bounds (wall time, CPU, memory, processes, user and capabilities) are
tried on the sandbox's command line itself; autograde without bwrap refuses in one line, and so
does autograde of a submission holding a symbolic link (nbgrader would copy its target as the
instructor, before any sandbox).
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

import grader
from grader import ROOT
from grader.notebook import sandbox
from grader.notebook.sandbox import Limits, Plan, SandboxUnavailable
from nbgrader_course import STUDENTS, make_course, fill_solutions

PYTHON = str(Path(sys.executable).parent / "python")
GiB = 1 << 30


# --- the escapes ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Targets:
    """What the escape cells go for, on the machine that grades."""

    gradebook: Path
    ssh_key: Path
    other_submission: Path
    socket_port: int
    tool_port: int
    writes: tuple[Path, ...]
    test_pid: int


def _cell(name: str, body: str) -> str:
    """A cell that prints `ESCAPED name: ...` when `body` (which sets `result`) works, else
    `blocked name: <error>`."""
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return (f"try:\n{lines}\n    print('ESCAPED {name}:', repr(result)[:200])\n"
            f"except Exception as error:\n    print('blocked {name}:', type(error).__name__, str(error)[:200])\n")


def escape_cells(t: Targets) -> dict[str, str]:
    """Each escape of issue 19 as the source of one cell, by name."""
    cells = {
        "gradebook": f"""
import sqlite3
con = sqlite3.connect("file:{t.gradebook}?mode=rw", uri=True)
con.execute("CREATE TABLE escaped (x)")
con.execute("UPDATE grade SET extra_credit = 100")
con.commit()
result = "wrote the gradebook"
""",
        "ssh-key": f'result = open("{t.ssh_key}").read()',
        "root-ssh": 'import os\nresult = os.listdir("/root/.ssh")',
        "other-student": f'result = open("{t.other_submission}").read()',
        "socket": f'import socket\nresult = socket.create_connection(("127.0.0.1", {t.socket_port}), timeout=5)',
        "renamed-tool": f"""
import os, shutil, subprocess
shutil.copy(shutil.which("virsh") or "/usr/bin/virsh", "vsh")
os.chmod("vsh", 0o755)
proc = subprocess.run(["./vsh", "-c", "qemu+tcp://127.0.0.1:{t.tool_port}/system", "uri"],
                      capture_output=True, text=True, timeout=30)
assert "Connection refused" not in proc.stderr and "Network is unreachable" not in proc.stderr, proc.stderr
result = proc.stderr
""",
        "environment": 'import os\nresult = sorted(k for k in os.environ if k.startswith(("LAB_", "LIBVIRT", "SSH_"))\n'
                       '                and k != "LAB_LANG")   # the notebook\'s own language cell sets LAB_LANG\nassert result',
        "processes": f'import os\nresult = os.path.exists("/proc/{t.test_pid}")\nassert result',
    }
    for i, path in enumerate(t.writes):
        cells[f"write-{i}"] = f'open("{path}", "w").write("escaped")\nresult = "{path}"'
    return {name: _cell(name, body) for name, body in cells.items()}


def outputs_by_escape(nb) -> dict[str, str]:
    """What each escape cell printed: `ESCAPED ...` or `blocked ...`, by name."""
    found = {}
    for cell in nb.cells:
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        for line in text.splitlines():
            word, _, rest = line.partition(" ")
            if word in ("ESCAPED", "blocked"):
                found[rest.split(":")[0]] = line
    return found


class Listener:
    """A "lab host": a TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listeners():
    pair = Listener(), Listener()
    yield pair
    for listener in pair:
        listener.close()


def _secret_files(root: Path) -> tuple[Path, Path, str, str]:
    """An instructor's ssh key and another student's file, each holding a token of its own."""
    key_token, other_token = f"KEY-{secrets.token_hex(8)}", f"OTHER-{secrets.token_hex(8)}"
    key = root / "instructor" / ".ssh" / "id_ed25519"
    key.parent.mkdir(parents=True)
    key.write_text(key_token)
    other = root / "course" / "submitted" / "other" / "lab0" / "notes.txt"
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_text(other_token)
    return key, other, key_token, other_token


# --- without the sandbox, the cells escape --------------------------------------------------------

@pytest.mark.slow
def test_without_the_sandbox_each_cell_escapes(tmp_path, listeners):
    """The cells run as nbgrader ran them before (NBGRADER_EXECUTION set, the guard active, no
    sandbox), against a stand-in course: every escape happens, so the sandboxed run can fail."""
    key, other, key_token, other_token = _secret_files(tmp_path)
    gradebook = tmp_path / "course" / "gradebook.db"
    with sqlite3.connect(gradebook) as con:
        con.execute("CREATE TABLE grade (id INTEGER, extra_credit REAL)")
        con.execute("INSERT INTO grade VALUES (1, NULL)")
    outside = tmp_path / "course" / "escaped.txt"
    work = tmp_path / "work"
    work.mkdir()
    socket_listener, tool_listener = listeners
    targets = Targets(gradebook, key, other, socket_listener.port, tool_listener.port, (outside,), os.getpid())
    cells = escape_cells(targets)
    nb = nbformat.v4.new_notebook(cells=[new_code_cell("import grader.notebook")] +
                                  [new_code_cell(source) for source in cells.values()])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    env = {**os.environ, "NBGRADER_EXECUTION": "autograde", "LAB_URI_A": "qemu+tcp://127.0.0.1:1/system"}
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(work)}}).execute(env=env)
    printed = outputs_by_escape(nb)

    expected = set(cells) - {"root-ssh", "renamed-tool"}   # no /root/.ssh needed; the tool: by its listener
    assert {name for name, line in printed.items() if line.startswith("ESCAPED")} >= expected, printed
    assert key_token in printed["ssh-key"] and other_token in printed["other-student"]
    assert socket_listener.connections >= 1 and tool_listener.connections >= 1
    with sqlite3.connect(gradebook) as con:
        assert con.execute("SELECT extra_credit FROM grade").fetchall() == [(100,)]
    assert outside.read_text() == "escaped"


# --- under nbgrader's autograde, in the sandbox, none does ---------------------------------------

@pytest.fixture
def beside_the_code():
    """A folder in the checkout (git-ignored), not under /tmp: like an instructor's course, which
    holds the venv and the grader beside the gradebook, it is hidden by the sandbox's view itself,
    not by its private /tmp."""
    folder = ROOT / "test-artifacts" / f"sandbox-{secrets.token_hex(4)}"
    folder.mkdir(parents=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def attacked_course(beside_the_code, listeners):
    """A course graded with nbgrader's own commands: `other` hands in a note of their own,
    `attacker` the solutions, a data file, and every escape cell (inserted before the graded test
    cell). The instructor's shell names a host and an ssh agent."""
    tmp_path = beside_the_code
    course = make_course(tmp_path)
    course.assignments = ["lab0"]
    key, other, key_token, other_token = _secret_files(tmp_path)
    socket_listener, tool_listener = listeners
    outside_tmp = Path("/tmp") / f"escaped-{secrets.token_hex(6)}"
    writes = (course.root / "escaped.txt", Path(sys.prefix) / "escaped.txt",
              Path(grader.__file__).parent / "escaped.py", outside_tmp)
    targets = Targets(course.root / "gradebook.db", key, other, socket_listener.port, tool_listener.port,
                      writes, os.getpid())
    course.host_env = {"HOME": str(key.parent.parent), "LAB_HOME": str(tmp_path / "labhome"),
                       "LAB_URI_A": f"qemu+tcp://127.0.0.1:{tool_listener.port}/system",
                       "LIBVIRT_DEFAULT_URI": f"qemu+tcp://127.0.0.1:{tool_listener.port}/system",
                       "SSH_AUTH_SOCK": str(tmp_path / "agent.sock")}
    course.nbgrader("generate_assignment", "lab0", "--force")
    release = course.root / "release" / "lab0"
    for student in ("attacker", "other"):
        shutil.copytree(release, course.root / "submitted" / student / "lab0", dirs_exist_ok=True)
    attacker = course.root / "submitted" / "attacker" / "lab0"
    (attacker / "data.csv").write_text("capacity,allocation\n10,1\n")
    source = nbformat.read(course.root / "notebooks" / "lab0" / "lab0.ipynb", 4)
    nb = fill_solutions(nbformat.read(attacker / "lab0.ipynb", 4), source)
    graded = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade"))
    mine = new_code_cell('open("scratch.txt", "w").write("mine")\nimport os\n'
                         'print("private copy:", open("scratch.txt").read(), sorted(os.listdir(".")), os.getcwd())')
    cells = escape_cells(targets)
    nb.cells[graded:graded] = [mine] + [new_code_cell(source) for source in cells.values()]
    nbformat.write(nb, attacker / "lab0.ipynb")
    course.nbgrader("autograde", "lab0", "--create")
    yield course, targets, cells, key_token, other_token
    outside_tmp.unlink(missing_ok=True)


@pytest.mark.slow
def test_under_autograde_no_escape_happens_and_the_exercise_is_scored(attacked_course, listeners):
    course, targets, cells, key_token, other_token = attacked_course
    nb = course.autograded("lab0", "attacker")
    printed = outputs_by_escape(nb)
    everything = nbformat.writes(nb)

    # every escape cell ran and was blocked (writing to /tmp works: the sandbox's own /tmp)
    assert set(printed) == set(cells), printed
    tmp_write = f"write-{len(targets.writes) - 1}"
    escaped = {name: line for name, line in printed.items() if line.startswith("ESCAPED") and name != tmp_write}
    assert escaped == {}, escaped
    # ... and left no trace where the grader lives
    assert all(listener.connections == 0 for listener in listeners)
    assert key_token not in everything and other_token not in everything
    assert not any(path.exists() for path in targets.writes), [p for p in targets.writes if p.exists()]
    with sqlite3.connect(course.root / "gradebook.db") as con:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        credits = con.execute("SELECT extra_credit FROM grade").fetchall()
    assert "escaped" not in tables and "grade" in tables
    assert credits and all(value is None for (value,) in credits)

    # the private copy: the submission's files (no notebook), writable, gone afterwards
    private = next(line for cell in nb.cells for o in cell.get("outputs", [])
                   for line in o.get("text", "").splitlines() if line.startswith("private copy:"))
    assert private.startswith("private copy: mine") and "data.csv" in private and "lab0.ipynb" not in private
    assert not (course.root / "autograded" / "attacker" / "lab0" / "scratch.txt").exists()

    # the knowledge exercise is still scored, for both students
    scores = course_scores(course)
    assert scores["attacker"] == (2, 2) and scores["other"] == (0, 2)


def course_scores(course) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        return {s: (gb.find_submission("lab0", s).score, gb.find_submission("lab0", s).max_score)
                for s in ("attacker", "other")}


# --- without bwrap, autograde refuses in one line ------------------------------------------------

@pytest.fixture(scope="module")
def submitted_course(tmp_path_factory):
    """A course with lab0 generated and both students' submissions in submitted/."""
    course = make_course(tmp_path_factory.mktemp("refusal"))
    course.assignments = ["lab0"]
    course.nbgrader("generate_assignment", "lab0", "--force")
    for student in STUDENTS:
        shutil.copytree(course.root / "release" / "lab0", course.root / "submitted" / student / "lab0")
    return course


@pytest.mark.slow
@pytest.mark.parametrize("how", ["missing path", "not on PATH"])
def test_without_bwrap_autograde_refuses_in_one_line_naming_the_package(submitted_course, how):
    course = submitted_course
    if how == "missing path":
        proc = course.attempt("nbgrader", "autograde", "lab0", "--create", "--Sandbox.bwrap=/nonexistent/bwrap",
                              f"--Exchange.root={course.exchange}")
    else:
        course.host_env = {"PATH": "/nonexistent"}   # nbgrader_config.py adds the venv's bin: no bwrap there
        try:
            proc = course.attempt("nbgrader", "autograde", "lab0", "--create", f"--Exchange.root={course.exchange}")
        finally:
            course.host_env = {}
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode != 0
    assert len(lines) == 1 and "refused" in lines[0] and "apt-get install bubblewrap" in lines[0], lines
    assert not (course.root / "autograded").exists()   # nothing graded, nothing half done


@pytest.mark.slow
def test_a_submission_holding_a_symbolic_link_is_refused_before_anything_is_copied(submitted_course, tmp_path):
    """nbgrader copies a submission's files as the instructor, following links: refused instead."""
    course = submitted_course
    secret = tmp_path / "id_ed25519"
    secret.write_text(f"KEY-{secrets.token_hex(8)}")
    link = course.root / "submitted" / "wrong" / "lab0" / "notes.txt"
    link.symlink_to(secret)
    try:
        proc = course.attempt("nbgrader", "autograde", "lab0", "--create", f"--Exchange.root={course.exchange}")
    finally:
        link.unlink()
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode != 0
    assert len(lines) == 1 and f"{link} is a symbolic link (to {secret})" in lines[0], lines
    assert not (course.root / "autograded").exists()


# --- the sandbox's command line, tried directly ---------------------------------------------------

def _plan(tmp_path: Path, **limits) -> Plan:
    submission = tmp_path / "submission"
    submission.mkdir(exist_ok=True)
    kernel_dir = tmp_path / "kernel"
    kernel_dir.mkdir(exist_ok=True)
    user = sandbox.NOBODY if os.geteuid() == 0 else None
    if user is not None:
        os.chown(kernel_dir, user, user)
    return Plan(bwrap=sandbox.find_bwrap("bwrap"), kernel_dir=str(kernel_dir), submission=str(submission),
                name="lab0", readonly=sandbox.visible_paths(sandbox.python_paths(), [str(tmp_path)]),
                env=sandbox.kernel_env(dict(os.environ)), limits=Limits(**limits), user=user)


def _run(plan: Plan, *argv: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run(sandbox.command(plan, list(argv)), capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - start


def test_the_kernel_runs_as_nobody_without_capabilities_or_new_privileges(tmp_path):
    proc, _ = _run(_plan(tmp_path), "/bin/sh", "-c", "grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs)' /proc/self/status")
    status = dict(line.split(":\t", 1) for line in proc.stdout.splitlines())
    uid = str(sandbox.NOBODY if os.geteuid() == 0 else os.getuid())
    assert status["Uid"].split()[0] == uid, proc.stdout + proc.stderr
    assert int(status["CapEff"], 16) == 0 and status["NoNewPrivs"].strip() == "1"
    if os.geteuid() == 0:
        assert int(status["CapBnd"], 16) == 0


def test_the_whole_kernel_is_killed_after_its_wall_time(tmp_path):
    """Killed with everything it started (a PID namespace dies with its first process)."""
    naptime = f"{secrets.randbelow(1000) + 1000}.5"   # a duration no other process sleeps
    proc, took = _run(_plan(tmp_path, wall=2), "/bin/sh", "-c", f"/bin/sleep {naptime} & /bin/sleep {naptime}")
    assert proc.returncode == -9 and took < 15, (proc.returncode, took, proc.stderr)
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", f"sleep {naptime}"], capture_output=True, text=True).stdout
    assert left == "", left


def test_cpu_time_is_bounded(tmp_path):
    proc, took = _run(_plan(tmp_path, cpu=1), PYTHON, "-c", "while True: pass")
    assert proc.returncode in (-24, 128 + 24, -9, 128 + 9) and took < 30, (proc.returncode, took)


def test_memory_is_bounded(tmp_path):
    proc, _ = _run(_plan(tmp_path, memory=1 * GiB), PYTHON, "-c",
                   "try:\n    b = bytearray(2 << 30)\nexcept MemoryError:\n    print('refused')\nelse:\n    print('got it')")
    assert proc.stdout.strip() == "refused", proc.stdout + proc.stderr


def test_the_number_of_processes_is_bounded(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the process bound applies to the sandbox's own user: run as root, as CI does")
    script = ("import subprocess\nprocs = []\ntry:\n    for _ in range(60):\n"
              "        procs.append(subprocess.Popen(['/bin/sleep', '20']))\nexcept OSError as e:\n"
              "    print('stopped at', len(procs), type(e).__name__)\nfor p in procs:\n    p.kill()\n")
    proc, _ = _run(_plan(tmp_path, processes=20), PYTHON, "-c", script)
    assert proc.stdout.startswith("stopped at") and int(proc.stdout.split()[2]) < 20, proc.stdout + proc.stderr


def test_the_home_is_bounded(tmp_path):
    proc, _ = _run(_plan(tmp_path, home=8 << 20), "/bin/sh", "-c",
                   "head -c 20000000 /dev/zero > big || echo full; ls -l big")
    assert "full" in proc.stdout, proc.stdout + proc.stderr


def test_a_python_that_would_show_the_course_is_refused(tmp_path):
    course = tmp_path / "course"
    (course / ".venv").mkdir(parents=True)
    assert sandbox.visible_paths([str(course / ".venv")], [str(course)]) == (str(course / ".venv"),)
    with pytest.raises(SandboxUnavailable, match=r"would show .*gradebook.db.* move one out of the other"):
        sandbox.visible_paths([str(course)], [str(course / "gradebook.db")])


def test_the_kernel_keeps_only_its_own_environment():
    env = sandbox.kernel_env({"LAB_URI_A": "x", "LIBVIRT_DEFAULT_URI": "y", "SSH_AUTH_SOCK": "z", "LAB_HOME": "h",
                              "HOME": "/root", "NBGRADER_EXECUTION": "autograde", "LANG": "es_ES.UTF-8",
                              "JPY_PARENT_PID": "7"}, {"SPEC": "1"})
    assert env["NBGRADER_EXECUTION"] == "autograde" and env["LANG"] == "es_ES.UTF-8" and env["SPEC"] == "1"
    assert env["HOME"] == sandbox.HOME and env["JPY_PARENT_PID"] == "1"
    assert not any(k.startswith(("LAB_", "LIBVIRT", "SSH_")) for k in env)


def test_a_missing_bwrap_is_named_with_the_package_to_install():
    with pytest.raises(SandboxUnavailable) as refusal:
        sandbox.find_bwrap("bwrap", env={"PATH": "/nonexistent"})
    assert "\n" not in str(refusal.value) and "apt-get install bubblewrap" in str(refusal.value)


def test_a_bwrap_that_cannot_make_a_sandbox_is_refused_in_one_line():
    with pytest.raises(SandboxUnavailable) as refusal:
        sandbox.probe("/bin/false")
    assert "\n" not in str(refusal.value) and "cannot make a sandbox" in str(refusal.value)


@pytest.mark.slow
def test_a_cell_that_hangs_is_interrupted_and_the_next_cells_still_run(tmp_path):
    """nbgrader's per-cell timeout interrupts the sandboxed kernel (by a message on its control
    channel: no signal reaches a kernel in a session of its own) and grading goes on."""
    from grader.notebook.sandboxkernel import SandboxedExecute

    nb = nbformat.v4.new_notebook(cells=[new_code_cell("while True:\n    pass"), new_code_cell("print('after')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    start = time.monotonic()
    nb, _ = SandboxedExecute(timeout=5).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert [o.get("ename") for o in nb.cells[0].outputs] == ["KeyboardInterrupt", "CellTimeoutError"]
    assert [o.get("text") for o in nb.cells[1].outputs] == ["after\n"]
    assert time.monotonic() - start < 60


@pytest.mark.slow
def test_a_kernel_that_cannot_start_leaves_nothing_behind(tmp_path):
    """Its sockets' folder and the submission's copy go, even when the kernel dies at once (here:
    16 MiB of address space, too little for Python)."""
    import tempfile

    from traitlets.config import Config

    from grader.notebook.sandboxkernel import SandboxedExecute

    def leftovers():
        return set(Path(tempfile.gettempdir()).glob("nbgrader-kernel-*"))

    before = leftovers()
    nb = nbformat.v4.new_notebook(cells=[new_code_cell("print('never')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    with pytest.raises(RuntimeError, match="Kernel died"):
        SandboxedExecute(timeout=30, config=Config({"Sandbox": {"memory": 16 << 20}})).preprocess(
            nb, {"metadata": {"path": str(tmp_path)}})
    assert leftovers() <= before


def test_the_home_seed_lists_only_fonts_the_sandbox_shows(monkeypatch):
    """The font list copied into each kernel's home (made once, outside) names no font of the
    instructor's home, and matplotlib in the sandbox reads it instead of rebuilding it."""
    import json

    import matplotlib
    from matplotlib import font_manager

    from grader.notebook.sandboxkernel import home_seed

    theirs = font_manager.FontEntry(fname="/root/.fonts/Instructor.ttf", name="Instructor")
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [*font_manager.fontManager.ttflist, theirs])
    readonly = sandbox.visible_paths(sandbox.python_paths(), [])
    seed = Path(home_seed.__wrapped__(readonly))
    try:
        [cached] = (seed / ".cache" / "matplotlib").glob("fontlist-v*.json")
        # matplotlib writes its own fonts relative to its data folder
        fonts = [os.path.join(matplotlib.get_data_path(), f["fname"])
                 for f in json.loads(cached.read_text())["ttflist"]]
        assert fonts and "/root/.fonts/Instructor.ttf" not in fonts
        shown = [*readonly, "/usr"]
        assert all(any(sandbox.inside(f, p) for p in shown) for f in fonts), fonts
    finally:
        shutil.rmtree(seed)


def test_a_checkout_under_tmp_stays_visible_and_tmp_stays_private(tmp_path):
    """An instructor's checkout (its venv, read-only in the sandbox) may live under /tmp: the
    sandbox's own /tmp must not hide it, and still shows nothing else of the host's /tmp."""
    tools = tmp_path / "checkout"
    tools.mkdir()
    (tools / "venv-file").write_text("from the checkout\n")
    tools.chmod(0o755)
    (tools / "venv-file").chmod(0o644)
    (tmp_path / "beside").write_text("the host's /tmp\n")
    plan = _plan(tmp_path)
    plan = Plan(**{**plan.__dict__, "readonly": (*plan.readonly, str(tools))})
    proc, _ = _run(plan, "/bin/sh", "-c", f"cat {tools / 'venv-file'}; ls {tmp_path}; ls -A /tmp | wc -l")
    lines = proc.stdout.splitlines()
    assert lines[0] == "from the checkout", proc.stdout + proc.stderr
    assert "beside" not in proc.stdout and "submission" not in lines[1:-1]
