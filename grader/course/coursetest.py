"""`lab course test`: every `sh` and `python` block of course.md and course.es.md, run on the lab hosts.

The course's examples are what students copy, so they must work as printed. Each rendered file is
read as a reader reads it: section by section (`## ` headings), and within a section the virsh
column as one track and the Python column as another (a side-by-side pair shows the same
operation twice, so each track starts from the same state). A section that practises a lab
(its "Practise it" link) starts each track with `lab start LAB` and ends it with `lab finish
LAB`; a section that practises none is followed by `lab finish` of every lab.

Two kinds of lab host, two halves of the course. On light hosts (the default, or whichever kind
is up in LAB_HOME) a shell block runs as a student's shell on lab host a: in that host's mount
namespace (`nsenter`), so `/var/lib/libvirt` is the host's own directory and
`qemu-img info /var/lib/libvirt/lab2/...` works as printed, with the lab hosts' environment
(`lab hosts env`), this venv's `lab` and `grade` on PATH, and a scratch copy of the repository
root as its working directory (nbgrader's course directory: `.venv/bin/nbgrader` works as
printed, and whatever a block writes stays out of the repository). A block marked
`<!-- VM hosts: REASON -->` (the source's `@vm-host`) needs a host with its own kernel: on VM
hosts (`--vm`) its shell runs on VM host a as root, through ssh, and its Python on this machine
against that host (as a notebook would); there the other blocks are skipped, and on light hosts
the marked ones, each with its reason. A block marked `<!-- not run here: REASON -->`
(`@not-here`) is skipped on both.

Shell blocks of a file share their exported variables, and within a section their working
directory (each runs with `set -euo pipefail`, every assignment exported); Python blocks of a file
share one interpreter, as a notebook would. A track none of whose blocks runs here starts and
finishes no lab (lab5 refuses to start on light hosts).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from grader import ROOT
from grader.core.text import one_line
from grader.course import coursetext
from grader.errors import EnvironmentProblem

BIN = Path(sys.executable).parent
#: Seconds one block may take before it counts as hung: the slowest write a 1 GiB image,
#: live-migrate with a disk, run nbgrader's whole workflow (40 s on a quiet 2-core machine, over
#: 240 s on a busy one) or build three block pools on a VM host under TCG.
BLOCK_TIMEOUT = 600.0
_NOT_HERE = re.compile(r"<!-- not run here: (.*?) -->\s*$")
_VM_HOST = re.compile(r"<!-- VM hosts: (.*?) -->\s*$")
_LAB = re.compile(r"\]\(notebooks/(lab\d+)/")
KINDS = {"light": "light hosts", "vm": "VM hosts"}


@dataclass(frozen=True)
class CodeBlock:
    file: str
    section: str
    kind: str                 # "sh" or "python"
    code: str
    not_here: str | None = None
    vm_host: str | None = None   # it needs a host with its own kernel: why

    def skip_reason(self, hosts: str) -> str | None:
        """Why this block does not run on `hosts` ("light" or "vm"), or None when it does."""
        if self.not_here:
            return self.not_here
        if hosts == "light" and self.vm_host:
            return f"on VM hosts only (lab course test --vm): {self.vm_host}"
        if hosts == "vm" and not self.vm_host:
            return "on light hosts (lab course test without --vm)"
        return None


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
    i, note, vm_host = 0, None, None
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            title = line[3:].strip()
            number = title.split(".")[0] if title[:1].isdigit() else "0"
            found.append(Section(title=number))
        elif match := _NOT_HERE.match(line.strip()):
            note = match.group(1)
        elif match := _VM_HOST.match(line.strip()):
            vm_host = match.group(1)
        elif line.startswith("```"):
            kind = line[3:].strip()
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            if kind in ("sh", "python"):
                found[-1].blocks.append(CodeBlock(file, found[-1].title, kind,
                                                  "\n".join(lines[i + 1:end]) + "\n", note, vm_host))
            note, vm_host, i = None, None, end
        elif (lab := _LAB.search(line)) and line.startswith("**"):
            found[-1].lab = lab.group(1)
        i += 1
    return [s for s in found if s.blocks]


# --- where the blocks run ------------------------------------------------------------------------

@dataclass(frozen=True)
class Hosts:
    """The lab hosts the blocks run on: their kind, the environment of `lab`, `grade` and the
    Python blocks (`lab hosts env` plus this venv on PATH), and how a shell reaches host a."""

    kind: str                  # "light" or "vm"
    env: dict[str, str]
    nsenter: list[str] = field(default_factory=list)   # light: enter host a's mount namespace
    ssh: list[str] = field(default_factory=list)       # vm: a root shell on VM host a

    def shell_argv(self, script: str) -> list[str]:
        """A command that runs `script` with bash as a shell on host a."""
        if self.kind == "vm":
            return [*self.ssh, "bash -c " + shlex.quote(script)]
        return [*self.nsenter, "bash", "-c", script]

    @property
    def python_enter(self) -> list[str]:
        """Python blocks run on this machine: in host a's namespace, or beside the VM hosts."""
        return self.nsenter if self.kind == "light" else []


def _kind_up(settings) -> str | None:
    """Which kind of lab host runs in this LAB_HOME: "vm", "light" or None."""
    from grader.labhosts import daemons, vm

    if any(vm.is_up(settings, n) for n in vm.known(settings)):
        return "vm"
    if any(daemons.is_up(settings, n) for n in daemons.known(settings)):
        return "light"
    return None


def hosts_environment(base: dict[str, str], vm: bool | None = None,
                      say: Callable[[str], None] = lambda _line: None) -> Hosts:
    """Lab hosts a and b, started if needed: VM hosts with `vm`, light ones with `vm=False`, and
    when not said, the kind that is up in LAB_HOME (light when none is)."""
    from grader import labhosts
    from grader.labhosts import daemons
    from grader.labhosts import vm as vmhosts
    from grader.labhosts.config import Settings

    if os.geteuid() != 0:
        raise EnvironmentProblem("lab course test runs the examples as a shell on lab host a: "
                                 "run it as root (lab hosts need root)")
    settings = Settings.from_env(base)
    if vm is None:
        vm = _kind_up(settings) == "vm"
    labhosts.up(["a", "b"], settings=settings, as_vm=vm, say=say)
    env = {k: v for k, v in base.items() if k != "NBGRADER_EXECUTION"}
    env.update(labhosts.environment(settings))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    if vm:
        return Hosts("vm", env, ssh=vmhosts.ssh_command(settings, "a"))
    nsenter = shutil.which("nsenter", path=env["PATH"] + os.pathsep + "/usr/bin:/bin")
    if not nsenter:
        raise EnvironmentProblem("nsenter is missing: install util-linux (lab course test enters lab host a)")
    return Hosts("light", env, nsenter=[nsenter, f"--mount=/proc/{daemons.pid(settings, 'a')}/ns/mnt", "--"])


def reader_checkout(folder: Path, env: dict[str, str]) -> Path:
    """A scratch copy of what a reader has at the repository root: nbgrader's course directory
    (its config and the notebooks) and the venv, so `.venv/bin/nbgrader ...` works as printed;
    the students' exchange is a folder of its own (`c.Exchange.root`, the course's advice)."""
    root = folder / "course"
    root.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(ROOT / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    (root / ".venv").symlink_to(Path(sys.prefix))
    exchange, config = folder / "exchange", folder / "jupyter"
    exchange.mkdir(mode=0o777)
    exchange.chmod(0o777)
    config.mkdir()
    (config / "nbgrader_config.py").write_text(f"c = get_config()  # noqa: F821\nc.Exchange.root = {str(exchange)!r}\n")
    env["JUPYTER_CONFIG_PATH"] = str(config)
    return root


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

#: Around each shell block: the variables earlier blocks exported, its working directory, strict
#: mode, and on exit what it exported and where it ended, after a marker on stdout (which also
#: travels over ssh).
_SHELL = """__course_state() { printf '%s' "$__course_mark"; env -0; printf '%s' "$__course_mark"; }
__course_end() { __course_status=$?; __course_state; pwd; exit $__course_status; }
"""
_NOT_STATE = {"PWD", "OLDPWD", "SHLVL", "_"}   # and the wrapper's own __course_* names


class Shell:
    """Shell blocks of one file, one after the other, sharing exported variables and the cwd."""

    def __init__(self, hosts: Hosts, work: str):
        self.hosts, self.work = hosts, work
        self.exported: dict[str, str] = {}
        self.mark = f"@@course-{secrets.token_hex(8)}@@"
        self.new_section()

    def new_section(self) -> None:
        """Each section starts in the same working directory (a reader's `cd` stays in its section)."""
        self.cwd = self.work

    def run(self, code: str) -> str | None:
        """None when the block succeeded, else its last line of error output."""
        script = "\n".join([   # the marker and the wrapper stay unexported: not in `env`
            f"__course_mark={shlex.quote(self.mark)}", _SHELL, "set -a",
            *(f"export {k}={shlex.quote(v)}" for k, v in self.exported.items()),
            "__course_state", "trap __course_end EXIT", "set -euo pipefail",
            f"cd {shlex.quote(self.cwd)}", code])
        try:
            done = subprocess.run(self.hosts.shell_argv(script), env=self.hosts.env, capture_output=True,
                                  text=True, timeout=BLOCK_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return f"no end within {BLOCK_TIMEOUT:g} s"
        parts = done.stdout.split(self.mark)
        if len(parts) == 5:   # "", env before, the block's output, env after, pwd
            before, after = _environ(parts[1]), _environ(parts[3])
            self.exported.update({k: v for k, v in after.items() if k not in _NOT_STATE
                                  and not k.startswith("__course") and before.get(k) != v})
            self.cwd = parts[4].strip() or self.cwd
            output = parts[2]
        else:
            output = done.stdout
        if done.returncode == 0:
            return None
        lines = [line for line in (done.stderr or output).splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"exit status {done.returncode}"


def _environ(blob: str) -> dict[str, str]:
    return {k: v for k, _, v in (item.partition("=") for item in blob.split("\0") if item)}


class Python:
    """Python blocks of one file, in one interpreter that keeps its names between blocks."""

    def __init__(self, hosts: Hosts, folder: Path):
        self.enter, self.env, self.folder = hosts.python_enter, hosts.env, folder
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
    hosts: str = "light"
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
        return (f"{self.ran} of {len(self.outcomes)} blocks ran on {KINDS[self.hosts]}, "
                f"{self.skipped} skipped{failed}")


def _lab(action: str, lab: str, env: dict[str, str]) -> None:
    done = subprocess.run([str(BIN / "lab"), action, lab], env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise EnvironmentProblem(f"`lab {action} {lab}` failed before the course's examples could run: "
                                 f"{(done.stderr or done.stdout).strip()}")


def run(langs: Iterable[str] = ("en", "es"), only: set[str] | None = None,
        out: Callable[[str], None] = print, base_env=None,
        files: dict[str, Path] | None = None, vm: bool | None = None,
        say: Callable[[str], None] = lambda _line: None) -> Summary:
    """Run the blocks of each language's file (sections `only`, if given) on the lab hosts (VM
    hosts with `vm`; see hosts_environment), print one line each; `say` gets the hosts' start-up
    progress. `files` replaces the rendered course files (tests give a small course of their own)."""
    from grader.core import labdef

    hosts = hosts_environment(dict(os.environ if base_env is None else base_env), vm, say)
    summary = Summary(hosts.kind)
    todo = []
    for lang in langs:
        path = (files or coursetext.OUTPUTS)[lang]
        chosen = [s for s in sections(path.read_text(), path.name)
                  if not only or s.title in only | {"0"}]   # 0: what every example assumes
        todo.append(chosen)
    if any(not b.skip_reason(hosts.kind) for chosen in todo for s in chosen for b in s.blocks):
        for lab in labdef.available():   # start clean: one lab's shared pool would block another's
            _lab("finish", lab, hosts.env)
    for chosen in todo:
        with tempfile.TemporaryDirectory(prefix="course-test-") as tmp:
            folder = Path(tmp)
            env = dict(hosts.env)
            here = Hosts(hosts.kind, env, hosts.nsenter, hosts.ssh)
            work = str(reader_checkout(folder, env)) if hosts.kind == "light" else _remote_folder(hosts)
            shell, python = Shell(here, work), Python(here, folder)
            try:
                for section in chosen:
                    for kind, runner in (("sh", shell), ("python", python)):
                        blocks = [b for b in section.blocks if b.kind == kind]
                        if blocks:
                            _track(section, blocks, runner, here, summary, out)
            finally:
                python.close()
                if hosts.kind == "vm":
                    subprocess.run(hosts.shell_argv(f"rm -rf {shlex.quote(work)}"), capture_output=True,
                                   timeout=60, stdin=subprocess.DEVNULL)
    out(summary.line())
    return summary


def _remote_folder(hosts: Hosts) -> str:
    """A fresh working directory on VM host a, for its shell blocks."""
    done = subprocess.run(hosts.shell_argv("mktemp -d /var/tmp/course-test-XXXXXX"), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not done.stdout.strip():
        raise EnvironmentProblem(f"VM host a gave no working directory: {one_line(done.stderr, 200)}")
    return done.stdout.strip()


def _track(section: Section, blocks: list[CodeBlock], runner, hosts: Hosts, summary: Summary, out) -> None:
    from grader.core import labdef

    runs_here = any(not b.skip_reason(hosts.kind) for b in blocks)
    if section.lab and runs_here:
        _lab("start", section.lab, hosts.env)
    if isinstance(runner, Shell):
        runner.new_section()
    broken = False
    for number, block in enumerate(blocks, start=1):
        if reason := block.skip_reason(hosts.kind):
            outcome = Outcome(block, number, "skipped", detail=reason)
        elif broken:
            outcome = Outcome(block, number, "skipped", detail="after the failure above in this section")
        else:
            started = time.monotonic()
            error = runner.run(block.code)
            outcome = Outcome(block, number, "failed" if error else "ran", time.monotonic() - started, error or "")
            broken = bool(error)
        summary.outcomes.append(outcome)
        out(outcome.line())
    if runs_here:   # nothing ran: nothing to clean up (and no lab to finish on the wrong kind of host)
        for lab in ([section.lab] if section.lab else labdef.available()):
            _lab("finish", lab, hosts.env)
