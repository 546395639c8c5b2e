"""nbgrader's autograde with each kernel in the sandbox (grader.notebook.sandbox), through
nbgrader's and jupyter_client's own extension points: nbgrader_config.py calls `configure`.

* `SandboxedExecute` is nbgrader's Execute preprocessor with `SandboxedKernelManager` as its
  kernel manager (Execute sets its own kernel manager class, so a config value alone would be
  overridden; `configure` puts this subclass in Autograde's list instead);
* `SandboxedKernelManager` is jupyter_client's AsyncKernelManager with the kernel's command
  wrapped in bwrap: the ipc transport (unix sockets in a directory of its own: the kernel has no
  network), a private copy of the submission, an environment of its own, interrupts as messages
  (a signal cannot reach a kernel in its own session), everything removed at shutdown;
* `SandboxCheckedExporter` is the exporter autograde makes before it touches any submission:
  it finds bwrap and makes one empty sandbox, or autograde stops with one line saying what to
  install (never an unsandboxed run, never a half-graded class);
* `Sandbox` holds the settings (`c.Sandbox.bwrap`, the limits).

The NBGRADER_EXECUTION guard (grader.notebook.autograde) still runs inside the sandbox.
"""
from __future__ import annotations

import atexit
import copy
import functools
import os
import shutil
import stat
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbconvert.exporters import NotebookExporter
from nbgrader.converters.autograde import Autograde
from nbgrader.converters.base import NbGraderException
from nbgrader.preprocessors import Execute
from traitlets import Integer, List, Unicode, default
from traitlets.config import Configurable

from grader.notebook import sandbox
from grader.notebook.sandbox import Limits, SandboxUnavailable


class Sandbox(Configurable):
    """Where bwrap is and what one kernel may use (nbgrader_config.py: `c.Sandbox.<name> = ...`)."""

    bwrap = Unicode("bwrap", help="The bwrap program (Debian package bubblewrap): a name on PATH or a path.").tag(config=True)
    memory = Integer(Limits.memory, help="Address space of the kernel, in bytes.").tag(config=True)
    cpu = Integer(Limits.cpu, help="CPU seconds of each process of the kernel.").tag(config=True)
    wall = Integer(Limits.wall, help="Seconds a kernel may live (its whole notebook).").tag(config=True)
    file_size = Integer(Limits.file_size, help="Largest file the kernel may write, in bytes.").tag(config=True)
    processes = Integer(Limits.processes, help="Processes of the sandbox's user (when autograde runs as root).").tag(config=True)
    home = Integer(Limits.home, help="Size of the kernel's home (with the submission's copy), in bytes.").tag(config=True)
    tmp = Integer(Limits.tmp, help="Size of the kernel's /tmp, in bytes.").tag(config=True)

    def limits(self) -> Limits:
        return Limits(memory=self.memory, cpu=self.cpu, wall=self.wall, file_size=self.file_size,
                      processes=self.processes, home=self.home, tmp=self.tmp)

    def program(self) -> str:
        """bwrap's path, once it has made an empty sandbox here; else SandboxUnavailable."""
        found = sandbox.find_bwrap(self.bwrap)
        sandbox.probe(found)
        return found


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in the sandbox."""

    hidden = List(Unicode(), help="Paths the sandbox must not show (the course directory, the exchange).")

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"   # the kernel has no network: unix sockets in a directory bound into the sandbox

    _workdir: Path | None = None
    _plan: sandbox.Plan | None = None

    async def _async_pre_start_kernel(self, **kw):
        self._remove_workdir()
        settings = Sandbox(config=self.config)
        bwrap = settings.program()
        self._workdir = Path(tempfile.mkdtemp(prefix="nbgrader-kernel-"))
        try:
            self._plan = self._prepare(self._workdir, bwrap, settings, kw)
            # what bwrap itself is started with: the same short environment (its /proc/1/environ)
            kw["env"] = dict(self._plan.env)
            kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        except BaseException:
            self._remove_workdir()
            raise
        self.kernel_spec.interrupt_mode = "message"
        return kernel_cmd, kw

    def _prepare(self, work: Path, bwrap: str, settings: Sandbox, kw: dict) -> sandbox.Plan:
        """The kernel's folder (sockets, connection file) and the submission's copy, in `work`."""
        user = sandbox.NOBODY if os.geteuid() == 0 else None
        kernel_dir = work / "kernel"
        kernel_dir.mkdir()
        if user is not None:
            os.chown(kernel_dir, user, user)
        self.connection_file = str(kernel_dir / "kernel.json")
        self.ip = str(kernel_dir / "ipc")
        submission = Path(kw.get("cwd") or os.getcwd())
        private = work / "submission"
        shutil.copytree(submission, private, symlinks=True, ignore=_not_for_the_kernel)
        _readable(private)   # by the sandbox's user (`work`, 0700, keeps everyone else out)
        environment = {**os.environ, **(kw.get("env") or {})}
        spec_env = self.kernel_spec.env if self.kernel_spec else {}
        readonly = sandbox.visible_paths(sandbox.python_paths(), list(self.hidden))
        return sandbox.Plan(
            bwrap=bwrap, kernel_dir=str(kernel_dir), submission=str(private), name=submission.name,
            readonly=readonly, env=sandbox.kernel_env(environment, spec_env), limits=settings.limits(),
            user=user, seed=home_seed(readonly))

    def format_kernel_cmd(self, extra_arguments=None):
        assert self._plan is not None, "format_kernel_cmd before pre_start_kernel"
        return sandbox.command(self._plan, super().format_kernel_cmd(extra_arguments))

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if self._plan is not None and self._plan.user is not None:
            os.chown(self.connection_file, self._plan.user, self._plan.user)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            self._remove_workdir()

    # AsyncKernelManager binds these names to its base class's coroutines: rebind them to ours
    pre_start_kernel = _async_pre_start_kernel
    cleanup_resources = _async_cleanup_resources

    def _remove_workdir(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _not_for_the_kernel(folder: str, names: list[str]) -> set[str]:
    """What the submission's copy leaves out: notebooks (the kernel gets its cells from nbgrader,
    and the graded notebook holds the hidden tests) and anything but files, folders and links."""
    left = set()
    for name in names:
        mode = os.lstat(os.path.join(folder, name)).st_mode
        if name.endswith(".ipynb") or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            left.add(name)
    return left


def _readable(folder: Path) -> None:
    """Folders and files of the copy readable by all (links are left as they are)."""
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, path.stat().st_mode | (0o755 if path.is_dir() else 0o644))


@functools.cache
def home_seed(readonly: tuple[str, ...]) -> str | None:
    """A folder copied into every kernel's home: matplotlib's font list, made once per nbgrader
    process (a fresh home would make each kernel rebuild it, about 1.3 s), listing only fonts the
    sandbox shows (never one from the instructor's home). None without matplotlib."""
    try:
        from matplotlib import font_manager
    except ImportError:
        return None
    seed = Path(tempfile.mkdtemp(prefix="nbgrader-home-seed-"))
    atexit.register(shutil.rmtree, seed, True)
    shown = [*readonly, *(p for p in sandbox.SYSTEM if os.path.isdir(p))]
    fonts = copy.copy(font_manager.fontManager)
    fonts.ttflist = [f for f in fonts.ttflist if any(sandbox.inside(f.fname, p) for p in shown)]
    fonts.afmlist = [f for f in fonts.afmlist if any(sandbox.inside(f.fname, p) for p in shown)]
    cache = seed / ".cache" / "matplotlib"
    cache.mkdir(parents=True)
    font_manager.json_dump(fonts, cache / f"fontlist-v{font_manager.FontManager.__version__}.json")
    _readable(seed)
    return str(seed)


class SandboxedExecute(Execute):
    """nbgrader's Execute preprocessor, with each kernel in the sandbox."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if not isinstance(km, SandboxedKernelManager):
            raise SandboxUnavailable(f"nbgrader autograde refused: {type(km).__name__} is not sandboxed")
        km.hidden = hidden_paths(self)
        return km


def hidden_paths(configurable) -> list[str]:
    """What the sandbox must never show: the course directory (gradebook, submissions, sources),
    the exchange, and the instructor's home."""
    hidden = [os.path.expanduser("~"), "/root", "/srv/nbgrader/exchange"]
    node = configurable
    while node is not None:
        coursedir = getattr(node, "coursedir", None)
        if coursedir is not None:
            hidden += [coursedir.root, coursedir.db_url.removeprefix("sqlite:///")]
            break
        node = getattr(node, "parent", None)
    exchange = configurable.config.get("Exchange", {}).get("root")
    if exchange:
        hidden.append(str(exchange))
    return hidden


class SandboxCheckedExporter(NotebookExporter):
    """Autograde's exporter: made after nbgrader found the submissions to grade and before it
    touches any, it refuses, in one line, when the sandbox cannot be made or when a submission
    holds a symbolic link (nbgrader would copy its target, as the instructor, out of the sandbox's
    reach)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            Sandbox(parent=self).program()
            for folder in sorted(getattr(self.parent, "assignments", {})):
                problem = sandbox.copied_as_the_instructor(folder)
                if problem:
                    raise SandboxUnavailable(f"nbgrader autograde refused: {problem}")
        except SandboxUnavailable as refusal:
            self.log.error("%s", refusal)
            raise NbGraderException(str(refusal)) from None


def configure(c) -> None:
    """nbgrader_config.py's part: autograde runs every kernel in the sandbox, or refuses."""
    defaults = Autograde.class_traits()["autograde_preprocessors"].make_dynamic_default()
    c.Autograde.autograde_preprocessors = [SandboxedExecute if p is Execute else p for p in defaults]
    c.Autograde.exporter_class = SandboxCheckedExporter
