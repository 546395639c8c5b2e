"""`lab course test`: every `sh` and `python` block of course.md and course.es.md, run on the lab hosts.

The course's examples are what students copy, so they must work as printed. Each rendered file is
read as a reader reads it: section by section (`## ` headings), and within a section the virsh
column as one track and the Python column as another (a side-by-side pair shows the same
operation twice, so each track starts from the same state). A section that practises a lab
(its "Practise it" link) starts each track with `lab start LAB` and ends it with `lab finish
LAB`; a section that practises none is followed by `lab finish` of every lab.

Blocks run as a student's shell on lab host a: in that host's mount namespace (`nsenter`), so
`/var/lib/libvirt` is the host's own directory and `qemu-img info /var/lib/libvirt/lab2/...`
works as printed, with the lab hosts' environment (`lab hosts env`) and this venv's `lab` and
`grade` on PATH. Shell blocks of a file share their exported variables, and within a section their
working directory (each runs with `set -euo pipefail`, every assignment exported); Python blocks of
a file share one interpreter, as a notebook would. A block marked `<!-- not run here: REASON -->` (the source's
`@not-here`) is skipped with its reason; a track none of whose blocks runs here starts no lab
(lab5's examples need a VM host, where `lab start lab5` works; on light hosts it refuses).
"""
from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from grader.core.text import one_line
from grader.course import coursetext
from grader.errors import EnvironmentProblem

BIN = Path(sys.executable).parent
#: Seconds one block may take: the slowest writes a 1 GiB image or live-migrates with its disk.
BLOCK_TIMEOUT = 180.0
_NOT_HERE = re.compile(r"<!-- not run here: (.*?) -->\s*$")
_LAB = re.compile(r"\]\(notebooks/(lab\d+)/")


@dataclass(frozen=True)
class CodeBlock:
    file: str
    section: str
    kind: str                 # "sh" or "python"
    code: str
    not_here: str | None = None


@dataclass
class Section:
    title: str
    lab: str | None = None
    blocks: list[CodeBlock] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    block: CodeBlock
    number: int               # the block's number in its section and track, from 1
    status: str               # "ran", "failed" or "skipped"
    seconds: float = 0.0
    detail: str = ""

    def line(self) -> str:
        where = f"{self.block.file} §{self.block.section} {self.block.kind} #{self.number}"
        if self.status == "ran":
            return f"{where}: ran ({self.seconds:.1f} s)"
        if self.status == "failed":
            return f"{where}: FAILED ({self.seconds:.1f} s): {self.detail}"
        return f"{where}: skipped: {self.detail}"


# --- reading a rendered file ---------------------------------------------------------------------

def sections(text: str, file: str) -> list[Section]:
    """The `## ` sections of a rendered course file, each with its lab and its sh/python blocks."""
    found = [Section(title="0")]
    lines = text.splitlines()
    i, note = 0, None
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            title = line[3:].strip()
            number = title.split(".")[0] if title[:1].isdigit() else "0"
            found.append(Section(title=number))
        elif match := _NOT_HERE.match(line.strip()):
            note = match.group(1)
        elif line.startswith("```"):
            kind = line[3:].strip()
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            if kind in ("sh", "python"):
                found[-1].blocks.append(CodeBlock(file, found[-1].title, kind,
                                                  "\n".join(lines[i + 1:end]) + "\n", note))
            note, i = None, end
        elif (lab := _LAB.search(line)) and line.startswith("**"):
            found[-1].lab = lab.group(1)
        i += 1
    return [s for s in found if s.blocks]


# --- running blocks --------------------------------------------------------------------------------

_WORKER = r"""
import contextlib, io, json, os, sys
reply = os.fdopen(int(sys.argv[1]), "w")
scope = {"__name__": "__course__"}
for request in sys.stdin:
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(json.loads(request), "<course block>", "exec"), scope)
        answer = {"ok": True}
    except BaseException as err:
        answer = {"ok": False, "error": f"{type(err).__name__}: {err}"}
    reply.write(json.dumps(answer) + "\n")
    reply.flush()
"""

_SHELL = """set -a
trap 'status=$?; env -0 > "$COURSE_TEST_ENV"; pwd > "$COURSE_TEST_CWD"; exit $status' EXIT
set -euo pipefail
cd "$(cat "$COURSE_TEST_CWD")"
"""


class Shell:
    """Shell blocks of one file, one after the other, sharing exported variables and the cwd."""

    def __init__(self, enter: list[str], env: dict[str, str], folder: Path):
        self.enter, self.folder = enter, folder
        self.state_env, self.state_cwd = folder / "env", folder / "cwd"
        (folder / "work").mkdir()
        self.new_section()
        self.env = {**env, "COURSE_TEST_ENV": str(self.state_env), "COURSE_TEST_CWD": str(self.state_cwd)}

    def new_section(self) -> None:
        """Each section starts in the same working directory (a reader's `cd` stays in its section)."""
        self.state_cwd.write_text(str(self.folder / "work"))

    def run(self, code: str) -> str | None:
        """None when the block succeeded, else its last line of error output."""
        try:
            done = subprocess.run([*self.enter, "bash", "-c", _SHELL + code], env=self.env,
                                  capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            return f"no end within {BLOCK_TIMEOUT:g} s"
        if self.state_env.exists():
            pairs = (item.partition("=") for item in self.state_env.read_text().split("\0") if item)
            self.env = {key: value for key, _, value in pairs if key not in ("PWD", "OLDPWD", "SHLVL", "_")}
        if done.returncode == 0:
            return None
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"exit status {done.returncode}"


class Python:
    """Python blocks of one file, in one interpreter that keeps its names between blocks."""

    def __init__(self, enter: list[str], env: dict[str, str], folder: Path):
        self.enter, self.env, self.folder = enter, env, folder
        self.process = None

    def _start(self):
        read, write = os.pipe()
        self.process = subprocess.Popen([*self.enter, sys.executable, "-c", _WORKER, str(write)],
                                        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, pass_fds=(write,), env=self.env,
                                        cwd=self.folder, text=True)
        os.close(write)
        self.replies = os.fdopen(read)

    def run(self, code: str) -> str | None:
        if self.process is None:
            self._start()
        self.process.stdin.write(json.dumps(code) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.replies], [], [], BLOCK_TIMEOUT)
        answer = self.replies.readline() if ready else ""
        if not answer:
            self.close()  # hung or died: the next block gets a new interpreter
            return f"no answer within {BLOCK_TIMEOUT:g} s" if not ready else "the interpreter died"
        reply = json.loads(answer)
        return None if reply["ok"] else one_line(reply["error"], 300)

    def close(self) -> None:
        if self.process is not None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.replies.close()
            self.process = None


# --- the whole run ---------------------------------------------------------------------------------

@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def ran(self) -> int:
        return sum(o.status != "skipped" for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status == "failed" for o in self.outcomes)

    @property
    def skipped(self) -> int:
        return sum(o.status == "skipped" for o in self.outcomes)

    def line(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.ran} of {len(self.outcomes)} blocks ran, {self.skipped} skipped{failed}"


def hosts_environment(base: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The lab hosts a and b (started if needed): their environment, and how to enter host a."""
    from grader import labhosts
    from grader.labhosts import daemons
    from grader.labhosts.config import Settings

    if os.geteuid() != 0:
        raise EnvironmentProblem("lab course test runs the examples as a shell on lab host a: "
                                 "run it as root (lab hosts need root)")
    settings = Settings.from_env(base)
    labhosts.up(["a", "b"], settings=settings)
    pid = daemons.pid(settings, "a")
    env = {k: v for k, v in base.items() if k != "NBGRADER_EXECUTION"}
    env.update(labhosts.environment(settings))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    nsenter = shutil.which("nsenter", path=env["PATH"] + os.pathsep + "/usr/bin:/bin")
    if not nsenter:
        raise EnvironmentProblem("nsenter is missing: install util-linux (lab course test enters lab host a)")
    return env, [nsenter, f"--mount=/proc/{pid}/ns/mnt", "--"]


def _lab(action: str, lab: str, env: dict[str, str]) -> None:
    done = subprocess.run([str(BIN / "lab"), action, lab], env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise EnvironmentProblem(f"`lab {action} {lab}` failed before the course's examples could run: "
                                 f"{(done.stderr or done.stdout).strip()}")


def run(langs: Iterable[str] = ("en", "es"), only: set[str] | None = None,
        out: Callable[[str], None] = print, base_env=None,
        files: dict[str, Path] | None = None) -> Summary:
    """Run the blocks of each language's file (sections `only`, if given); print one line each.
    `files` replaces the rendered course files (tests give a small course of their own)."""
    from grader.core import labdef

    env, enter = hosts_environment(dict(os.environ if base_env is None else base_env))
    labs = labdef.available()
    summary = Summary()
    for lab in labs:  # start clean: one lab's shared pool would block another's on the same export
        _lab("finish", lab, env)
    for lang in langs:
        path = (files or coursetext.OUTPUTS)[lang]
        with tempfile.TemporaryDirectory(prefix="course-test-") as tmp:
            shell, python = Shell(enter, env, Path(tmp)), Python(enter, env, Path(tmp))
            try:
                for section in sections(path.read_text(), path.name):
                    if only and section.title not in only | {"0"}:  # 0: what every example assumes
                        continue
                    for kind, runner in (("sh", shell), ("python", python)):
                        blocks = [b for b in section.blocks if b.kind == kind]
                        if blocks:
                            _track(section, blocks, runner, env, summary, out)
            finally:
                python.close()
    out(summary.line())
    return summary


def _track(section: Section, blocks: list[CodeBlock], runner, env, summary: Summary, out) -> None:
    from grader.core import labdef

    if section.lab and any(not b.not_here for b in blocks):   # none runs here: no lab to start
        _lab("start", section.lab, env)
    if isinstance(runner, Shell):
        runner.new_section()
    broken = False
    for number, block in enumerate(blocks, start=1):
        if block.not_here:
            outcome = Outcome(block, number, "skipped", detail=block.not_here)
        elif broken:
            outcome = Outcome(block, number, "skipped", detail="after the failure above in this section")
        else:
            started = time.monotonic()
            error = runner.run(block.code)
            outcome = Outcome(block, number, "failed" if error else "ran", time.monotonic() - started, error or "")
            broken = bool(error)
        summary.outcomes.append(outcome)
        out(outcome.line())
    for lab in ([section.lab] if section.lab else labdef.available()):
        _lab("finish", lab, env)
