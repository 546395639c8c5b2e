"""Shared fixtures: real lab hosts for tests marked `labhost`, and libvirt clean-up.

Tests that need real daemons use the session fixture `labhosts`: it brings hosts a and b and the
shared storage up (idempotently: hosts already running, maybe used by a developer, are left
alone and never torn down) and fails with the one-line reason if they cannot start. It never
skips: CI runs as root on a machine where lab hosts work, and a silent skip would hide that.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader import labhosts as _labhosts
from grader.errors import LabError
from grader.testing.loopback import free_port_base

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class LabHosts:
    """What tests get: the `lab hosts env` variables and each host's URI."""

    env: dict[str, str] = field(default_factory=dict)

    def uri(self, name: str) -> str:
        return self.env[f"LAB_URI_{name.upper()}"]


@pytest.fixture(scope="session")
def labhosts() -> LabHosts:
    try:
        _labhosts.up(["a", "b"])
        env = _labhosts.environment()
    except LabError as err:
        pytest.fail(f"lab hosts could not start: {err}", pytrace=False)
    _finish_every_lab(env, kernel=False)
    return LabHosts(env)


#: VM hosts for tests: their own LAB_HOME and ports, so light hosts a and b stay up beside them.
VM_HOME = os.environ.get("LAB_VM_HOME", "/var/lib/kvm-storage-lab-vm")
VM_PORT_BASE = os.environ.get("LAB_VM_PORT_BASE", "17600")


@dataclass(frozen=True)
class VMHosts(LabHosts):
    """VM hosts a and b: `env` as `lab hosts env` prints it, `lab_env` selects their LAB_HOME."""

    lab_env: dict[str, str] = field(default_factory=dict)

    def run(self, name: str, command: str, timeout: float = 120.0):
        """A shell command on VM host `name`, as root."""
        from grader.labhosts import vm
        from grader.labhosts.config import Settings

        return vm.run(Settings.from_env(self.lab_env), name, command, timeout)


def _vm_settings():
    from grader.labhosts.config import Settings

    lab_env = {"LAB_HOME": VM_HOME, "LAB_PORT_BASE": VM_PORT_BASE}
    if os.environ.get("LAB_IMAGES"):   # another image cache (e.g. to time a build from scratch)
        lab_env["LAB_IMAGES"] = os.environ["LAB_IMAGES"]
    return lab_env, Settings.from_env(lab_env)


# --- VM-host tests last, their images built meanwhile --------------------------------------

def _needs_vm(item) -> bool:
    return "_vmhosts_session" in getattr(item, "fixturenames", ())


class ImageBuilds:
    """The images the VM-host tests need, built in the background (niced, idle I/O) while the
    other tests run, one after the other: the VM hosts' image (its Debian base first, when it
    is not cached), then the student image when its tests are selected. A fixture that needs
    one waits for it (`wait`); without a background build it builds as before."""

    def __init__(self):
        self.folder: Path | None = None
        self.done: dict[str, threading.Event] = {}
        self.status: dict[str, int] = {}
        self.process: subprocess.Popen | None = None
        self.stopping = False

    def plan(self, items) -> None:
        vm_items = [i for i in items if _needs_vm(i)]
        if not vm_items or os.environ.get("LAB_VM_TESTS") == "0" or self.folder is not None:
            return
        self.folder = Path(tempfile.mkdtemp(prefix="lab-image-builds-"))
        lab_env, _ = _vm_settings()
        steps = [("vm", ["image", "build"])]
        if any("built" in i.fixturenames for i in vm_items):
            steps.append(("student", ["image", "build", "--out", str(self.student_image),
                                      "--size", "10G"]))
        self.done = {name: threading.Event() for name, _ in steps}
        threading.Thread(target=self._run, args=(steps, {**os.environ, **lab_env}), daemon=True,
                         name="image-builds").start()

    @property
    def student_image(self) -> Path:
        return self.folder / "student" / "student.qcow2"

    def _run(self, steps, env) -> None:
        nice = ["nice", "-n", "19"] + (["ionice", "-c", "3"] if shutil.which("ionice") else [])
        for name, args in steps:
            (self.folder / name).mkdir()
            with open(self.folder / f"{name}.log", "w") as log:
                if not self.stopping:
                    self.process = subprocess.Popen([*nice, str(BIN / "lab"), *args], stdout=log,
                                                    stderr=log, stdin=subprocess.DEVNULL, env=env)
                    self.status[name] = self.process.wait()
            self.done[name].set()

    def wait(self, name: str) -> str | None:
        """The build's output once it has finished (None: no background build of it); a
        failed build fails the test with its last lines."""
        if name not in self.done:
            return None
        self.done[name].wait()
        output = (self.folder / f"{name}.log").read_text()
        if self.status.get(name) != 0:
            pytest.fail(f"the {name} image did not build in the background: "
                        + " | ".join(output.strip().splitlines()[-5:]), pytrace=False)
        return output

    def stop(self) -> None:
        self.stopping = True
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


BUILDS = ImageBuilds()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """VM-host tests run after all the others, each group in the order pytest-randomly gave it:
    their images are built meanwhile (BUILDS), and no other test waits behind a boot."""
    items[:] = [i for i in items if not _needs_vm(i)] + [i for i in items if _needs_vm(i)]
    if not config.option.collectonly:
        BUILDS.plan(items)


def pytest_sessionfinish(session, exitstatus):
    BUILDS.stop()


@pytest.fixture(scope="session")
def image_builds() -> ImageBuilds:
    return BUILDS


@pytest.fixture(scope="session")
def _vmhosts_session():
    """Once per session: whether a developer had the VM hosts up already (then they are left
    as they are), and a clean start for the labs."""
    from grader.labhosts import vm

    if os.environ.get("LAB_VM_TESTS") == "0":
        pytest.skip("VM-host tests skipped: LAB_VM_TESTS=0 (CI runs them)")
    BUILDS.wait("vm")
    lab_env, settings = _vm_settings()
    state = {"already": all(vm.is_up(settings, n) for n in ("a", "b")), "finished": False}
    return state


@pytest.fixture(scope="module")
def vmhosts(_vmhosts_session) -> VMHosts:
    """VM hosts a and b (own kernel: LVM, ZFS, NFS, kernel iSCSI), up for one test module.

    Each module that uses them brings them up and, at its end, down again: `down` suspends them
    (their state saved) and the next module's `up` resumes them in seconds, so the suite pays
    one cold boot at most (none when the previous run left them saved) and no two TCG guests
    idle on the CPU between modules. Hosts a developer already had up are left alone. The
    first boot on a machine builds the image (about 8 minutes here). LAB_VM_TESTS=0 skips
    every VM-host test, for a quick local run."""
    lab_env, settings = _vm_settings()
    try:
        _labhosts.up(["a", "b"], settings=settings, as_vm=True)
        env = _labhosts.environment(settings)
    except LabError as err:
        pytest.fail(f"VM hosts could not start: {err}", pytrace=False)
    if not _vmhosts_session["finished"]:
        _finish_every_lab(env, kernel=True)
        _vmhosts_session["finished"] = True
    yield VMHosts(env, lab_env)
    if not _vmhosts_session["already"]:
        _labhosts.down(None, settings=settings)


def _finish_every_lab(env: dict, kernel: bool) -> None:
    """Start the session with no lab's objects on a and b: lab hosts keep their state between
    runs, and one lab's leftovers (lab4's pool on the shared export) would block another's.
    Each lab that can run on this kind of host, by its [needs] (light hosts share this
    machine's kernel: no lab that needs its own)."""
    from grader.core import labdef
    from grader.provision import StartContext
    from grader.reading import connection

    for lab in labdef.DEFAULT.all():
        if lab.needs.kernel and not kernel:
            continue
        conns = {role: connection.open_bounded(env[f"LAB_URI_{role}"], write=True) for role in lab.roles}
        try:
            lab.module("start").finish(StartContext(lab=lab.id, conns=conns, env=env))
        finally:
            for conn in conns.values():
                connection.close(conn)


@pytest.fixture(scope="session")
def port_base():
    """`port_base(names)`: a free LAB_PORT_BASE for a scratch LAB_HOME with these hosts."""
    return free_port_base


@pytest.fixture
def utc(monkeypatch):
    """The machine's time zone set to UTC for the test, so times of day read the same everywhere."""
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def token() -> str:
    """A suffix for `t-` names, so concurrent test runs on the shared hosts never collide."""
    return secrets.token_hex(3)


@pytest.fixture
def connect():
    """Open read-write libvirt connections (as a student's virsh would) closed after the test."""
    from grader.reading import connection

    opened = []

    def _open(uri: str):
        conn = connection.open_bounded(uri, write=True)
        opened.append(conn)
        return conn

    yield _open
    for conn in opened:
        try:
            conn.close()
        except Exception:
            pass


@pytest.fixture
def cleanup():
    """Register undo actions (destroy a domain, delete a pool); they run after the test,
    last registered first, each one even if another fails."""
    actions = []
    yield actions.append
    for action in reversed(actions):
        try:
            action()
        except Exception:
            pass


# --- coverage meta-tests (tests/test_meta_coverage.py), as virtinst's tests do -------------------

#: What this test session exercised: XML fields that gave a value, catalog keys rendered.
EXERCISED = {"fields": set(), "messages": set()}


@pytest.fixture(scope="session", autouse=True)
def _record_what_tests_exercise():
    """Every read of a declared XML field that finds a value, and every feedback message
    rendered, in any test of this session, is recorded for the coverage meta-tests."""
    from grader.core import i18n, xmlmodel

    patched = []

    def record_reads(cls):
        original = cls.__get__

        def get(self, obj, owner=None):
            value = original(self, obj, owner)
            if obj is not None and value not in (None, []):
                EXERCISED["fields"].add((getattr(self, "owner", "?"), self.name))
            return value

        cls.__get__ = get
        patched.append((cls, original))

    for cls in (xmlmodel.Field, xmlmodel.ListField, xmlmodel.SizeField, xmlmodel.Child):
        record_reads(cls)
    render = i18n.Catalog.render

    def recording_render(self, message, lang):
        EXERCISED["messages"].add(message.key)
        return render(self, message, lang)

    i18n.Catalog.render = recording_render
    yield EXERCISED
    i18n.Catalog.render = render
    for cls, original in patched:
        cls.__get__ = original


@pytest.fixture(scope="session")
def at_session_end(_record_what_tests_exercise):
    """Checks that count what the whole session did: a meta-test registers one (a function of
    what was exercised, returning a failure message or None) and it runs here when the session
    ends, after every test, whatever order they ran in. A failure is reported at teardown."""
    checks = []
    yield checks.append
    failures = [failure for check in checks if (failure := check(_record_what_tests_exercise))]
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)

