"""The sandbox a student's code runs in under nbgrader's autograde: bubblewrap's command line.

nbgrader's autograde executes every cell of a student's notebook on the instructor's machine. The
NBGRADER_EXECUTION guard (grader.notebook.autograde) skips `%%host` cells and refuses libvirt and
host commands by name, but a cell runs any Python it likes: it could open the course's
gradebook.db with sqlite3 and rewrite scores, read the instructor's ssh keys or other students'
submissions, connect to a lab host, or run virsh copied under another name. So the kernel itself
runs in a sandbox (grader.notebook.sandboxkernel starts it), made by bubblewrap (`bwrap`, the
Debian package `bubblewrap`): the sandbox Flatpak builds its apps on, small, no daemon and no
image to build, setuid-free on Debian (it uses the kernel's namespaces), and one command line
says the whole policy. (firejail is setuid with a history of escapes and policy in profile
files; docker/podman need a daemon or an image; systemd-run needs systemd, which these
machines do not run; nsjail is not in Debian 12.)

What the kernel sees (`command` builds it; everything else does not exist in its view):

* no network: a network namespace of its own with only its own loopback (no lab host, no
  instructor's 127.0.0.1, no abstract unix sockets), no other process (a PID namespace, its own
  /proc), its own IPC and hostname;
* read-only: the system (/usr and the /bin, /lib... links), a short list of /etc files a Python
  needs (never /etc/ssh, /etc/shadow, /etc/libvirt, /etc/pki), and the Python the kernel is:
  nbgrader's own venv and the Python it was made from, and the course's `grader` and `labs`
  packages; not the instructor's home, the course directory (gradebook, submitted/, autograded/,
  source notebooks), the exchange, /run, /var, /tmp, /srv, /mnt, /work, LAB_HOME...
  (`visible_paths` refuses a list that would contain one of them);
* writable: a home of its own (a size-bounded tmpfs) holding a private copy of the one
  submission being graded (its files, without the notebooks: the kernel gets its cells from
  nbgrader, and the graded notebook holds the hidden tests), a size-bounded /tmp and /dev/shm,
  and the directory of its own sockets (jupyter_client's `ipc` transport: a kernel without a
  network cannot use TCP);
* an environment of its own: HOME, PATH, the language, NBGRADER_EXECUTION and nothing else (no
  LAB_*, LIBVIRT_DEFAULT_URI, SSH_AUTH_SOCK);
* when the instructor is root: the user `nobody` with no capabilities (root without capabilities
  could still read root's files and count its processes as root's), no new privileges.

Bounds (`Limits`): resource limits (prlimit, util-linux) on address space, CPU seconds, file size
and, for `nobody`, processes; a wall-clock bound on the whole kernel (timeout, coreutils, outside
the sandbox so the kernel cannot kill it); size-bounded tmpfs for its home and /tmp. Not cgroups:
these machines run no systemd and mix cgroup v1 and v2, and rlimits need nothing set up. nbgrader's
own per-cell timeout (ExecutePreprocessor.timeout) still interrupts a cell that hangs.
"""
from __future__ import annotations

import glob
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: The Debian package to install, named in every refusal.
PACKAGE = "bubblewrap"

#: The user a root instructor's kernels run as: nobody/nogroup, no capabilities.
NOBODY = 65534

#: Where the sandbox's home is, where the submission's read-only copy is bound before the kernel
#: copies it into that home, and where the home's seed is (caches made once outside, copied in).
HOME = "/home/student"
SUBMISSION = "/submission"
SEED = "/home-seed"

#: The system, read-only: /usr, and the merged-/usr links (or directories, on a system without them).
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

#: What a Python kernel needs from /etc (dynamic linker, users' names without hashes, time zone,
#: MIME types, Debian's Python settings, fonts, the alternatives /usr/bin links point to).
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf",
       "localtime", "timezone", "mime.types", "alternatives", "fonts", "python3*", "matplotlibrc")

#: Variables the kernel keeps from the instructor's environment (when set); all others are dropped.
KEPT_ENV = ("NBGRADER_EXECUTION", "LAB_LANG", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ")

#: Run inside the sandbox before the kernel: seed the home, copy the submission into it, go there,
#: start the kernel.
START = ('set -e; if [ -d "$1" ]; then cp -R "$1/." "$HOME"; fi; cp -R "$2/." "$HOME/$3"; cd "$HOME/$3"; '
         'shift 3; exec "$@"')

MiB = 1 << 20


class SandboxUnavailable(Exception):
    """The sandbox cannot be made here: autograde refuses (one line saying what to do)."""


@dataclass(frozen=True)
class Limits:
    """What one kernel may use; nbgrader_config.py can change each (`c.Sandbox.<name>`)."""

    memory: int = 4096 * MiB    # address space (RLIMIT_AS)
    cpu: int = 600              # CPU seconds (RLIMIT_CPU)
    wall: int = 900             # seconds the kernel may live at all
    file_size: int = 256 * MiB  # largest file it may write (RLIMIT_FSIZE)
    processes: int = 256        # processes of the sandbox's user (RLIMIT_NPROC), as nobody only
    home: int = 512 * MiB       # its home (the submission's copy and what it writes there)
    tmp: int = 256 * MiB        # its /tmp (and its /dev/shm)


@dataclass(frozen=True)
class Plan:
    """Everything one sandboxed kernel is, as plain data."""

    bwrap: str                     # the bwrap program
    kernel_dir: str                # its sockets and connection file, bound writable at the same path
    submission: str                # a read-only copy of the submission's files, bound at SUBMISSION
    name: str                      # the copy's folder in the sandbox's home (the assignment)
    readonly: tuple[str, ...]      # host paths shown read-only at the same path
    env: dict[str, str]            # the kernel's whole environment
    limits: Limits = field(default_factory=Limits)
    user: int | None = None        # run as this uid and gid (a root instructor: NOBODY)
    seed: str | None = None        # a read-only folder copied into the home first (caches)


def command(plan: Plan, kernel: list[str]) -> list[str]:
    """The command line that runs `kernel` (a kernelspec's argv) in the sandbox of `plan`."""
    lim = plan.limits
    bounds = ["/usr/bin/prlimit", f"--as={lim.memory}", f"--cpu={lim.cpu}", f"--fsize={lim.file_size}", "--core=0"]
    if plan.user is not None:
        bounds.append(f"--nproc={lim.processes}")
    argv = [*bounds, "--", "/usr/bin/timeout", "--signal=KILL", str(lim.wall), plan.bwrap]
    argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
             "--hostname", "sandbox", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if plan.user is None:
        argv.append("--unshare-user")   # an unprivileged instructor: bwrap needs a user namespace
    else:
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    argv.append("--clearenv")
    for key, value in sorted(plan.env.items()):
        argv += ["--setenv", key, value]
    # The sandbox's own file systems first, then what it is shown: a read-only path may lie
    # under one of them (a checkout in /tmp), and a file system mounted after it would hide it.
    mounts = [*system_mounts(), ("--dev", "/dev"), ("--proc", "/proc"),
              ("--perms", "1777", "--size", str(lim.tmp), "--tmpfs", "/tmp"),
              ("--perms", "1777", "--size", str(lim.tmp), "--tmpfs", "/dev/shm"),
              ("--perms", "0777", "--size", str(lim.home), "--tmpfs", HOME),
              *(("--ro-bind", path, path) for path in plan.readonly),
              ("--ro-bind", plan.submission, SUBMISSION),
              *([("--ro-bind", plan.seed, SEED)] if plan.seed else []),
              ("--bind", plan.kernel_dir, plan.kernel_dir)]
    argv += with_parents(mounts) + ["--chdir", HOME, "--"]
    if plan.user is not None:
        argv += ["/usr/bin/setpriv", f"--reuid={plan.user}", f"--regid={plan.user}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--"]
    return argv + ["/bin/sh", "-c", START, "sh", SEED, SUBMISSION, plan.name, *kernel]


def system_mounts(root: str = "/") -> list[tuple[str, ...]]:
    """/usr and its links read-only, and the listed /etc files: bwrap's mounts for what exists."""
    mounts = []
    for path in SYSTEM:
        host = os.path.join(root, path.lstrip("/"))
        if os.path.islink(host):
            mounts.append(("--symlink", os.readlink(host), path))
        elif os.path.isdir(host):
            mounts.append(("--ro-bind", path, path))
    for pattern in ETC:
        for host in sorted(glob.glob(os.path.join(root, "etc", pattern))):
            name = os.path.basename(host)
            mounts.append(("--ro-bind", f"/etc/{name}", f"/etc/{name}"))
    return mounts


def with_parents(mounts: list[tuple[str, ...]]) -> list[str]:
    """bwrap's arguments for `mounts` (each ends with its destination), each preceded by the
    folders above its destination that nothing made yet, made world-readable (bwrap makes them
    0700, which `nobody` could not enter)."""
    made = {"/"}
    argv: list[str] = []
    for mount in mounts:
        dest = mount[-1]
        for parent in reversed(Path(dest).parents):
            if str(parent) not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        argv += mount
        made.add(dest)
    return argv


def kernel_env(environ: dict[str, str], spec_env: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's whole environment: its own HOME, PATH and /tmp, the language, NBGRADER_EXECUTION
    and the kernelspec's own variables; nothing else from the instructor's."""
    env = {key: environ[key] for key in KEPT_ENV if key in environ}
    env.setdefault("LANG", "C.UTF-8")
    env.update(spec_env or {})
    # JPY_PARENT_PID=1: the kernel's parent is the sandbox's init, which outlives it (ipykernel
    # then neither watches its parent nor prints its console banner); bwrap --die-with-parent
    # ends the sandbox with nbgrader.
    env.update({"HOME": HOME, "TMPDIR": "/tmp", "PYTHONNOUSERSITE": "1", "JPY_PARENT_PID": "1",
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])})
    return env


def python_paths() -> list[str]:
    """What the kernel's Python is: nbgrader's venv, the Python it was made from, and the course's
    `grader` and `labs` packages (where an editable install or a wheel put them)."""
    import grader
    import labs

    paths = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
             *grader.__path__, *labs.__path__]
    return [os.path.realpath(p) for p in paths]


def visible_paths(paths: list[str], hidden: list[str]) -> tuple[str, ...]:
    """The paths to show read-only (existing ones, none inside another), after making sure that
    none of them, nor the system, shows a hidden one (the course directory, the instructor's
    home, the exchange): a Python installed in the course directory would show the gradebook."""
    shown = sorted({os.path.normpath(p) for p in paths if os.path.isdir(p)})
    system = [p for p in SYSTEM if os.path.isdir(p) and not os.path.islink(p)]
    shown = [p for p in shown if not any(inside(p, q) for q in system)
             and not any(inside(p, q) for q in shown if q != p)]
    for path in shown + system:
        for secret in hidden:
            if inside(os.path.realpath(secret), path):
                raise SandboxUnavailable(
                    f"nbgrader autograde refused: the sandbox would show {secret} to students' code, "
                    f"because it is inside {path}, which the kernel's Python needs: move one out of the other")
    return tuple(shown)


def inside(path: str, folder: str) -> bool:
    """`path` is `folder` or under it (normalised absolute paths)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def copied_as_the_instructor(folder: str) -> str | None:
    """Why nbgrader must not copy this submission, or None. Autograde copies a submission's files
    with shutil.copy, as the instructor and before any sandbox: a symbolic link would be copied
    as what it points to (a key, another student's work), into autograded/ (the kernel's copy)
    and on into the student's feedback. Also anything but files and folders (a FIFO hangs a copy)."""
    for top, folders, files in os.walk(folder):
        for name in sorted(folders + files):
            path = os.path.join(top, name)
            if os.path.islink(path):
                return (f"{path} is a symbolic link (to {os.readlink(path)}): nbgrader would copy what it "
                        f"points to as the instructor; remove it from the submission")
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                return f"{path} is not a file or a folder: remove it from the submission"
    return None


def find_bwrap(configured: str, env: dict[str, str] | None = None) -> str:
    """The bwrap program (`c.Sandbox.bwrap`: a name on PATH or a path), or a one-line refusal."""
    env = os.environ if env is None else env
    found = shutil.which(configured, path=env.get("PATH", os.defpath))
    if found is None:
        raise SandboxUnavailable(
            f"nbgrader autograde refused: students' code runs only in a sandbox and {configured!r} was "
            f"not found: install the Debian package {PACKAGE} (apt-get install {PACKAGE})")
    return found


def probe(bwrap: str, timeout: float = 20) -> None:
    """Make one empty sandbox of the same kind, so that a machine where bwrap cannot work (user
    namespaces disabled, say) refuses before grading instead of failing each notebook."""
    as_root = os.geteuid() == 0
    argv = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", *([] if as_root else ["--unshare-user"]),
            *with_parents([*system_mounts(), ("--proc", "/proc")]), "--", "/bin/true"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        problem = str(error)
    else:
        if proc.returncode == 0:
            return
        problem = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    hint = "" if as_root else "; run as a user, bubblewrap needs user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
    raise SandboxUnavailable(f"nbgrader autograde refused: {bwrap} cannot make a sandbox on this machine ({problem}){hint}")
