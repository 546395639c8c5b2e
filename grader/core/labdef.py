"""Labs are content: a folder per lab, found in a labs folder, loaded without touching the engine.

A lab folder holds:

    lab.toml        id, title, roles, exercises (points, text in en/es), start options
    names.py        the lab's object names (pools, volumes, domains, snapshots) and SCOPE,
                    what the grader reads from each host; start, checks and solution import it
    checks.py       one @check function per exercise (pure: evidence in, verdict out)
    messages.toml   the feedback catalog, English and Spanish side by side
    start.py        start(ctx) / finish(ctx): the lab's starting state (read-write, through
                    grader.provision)
    views.py        (optional) lab-specific XML views, e.g. lab4's live-only marker
    solution.py, fixtures/

Discovery is explicit (every <folder>/*/lab.toml). The folder is injectable: `Labs(path)`, or
$LAB_LABS_DIR for the commands (a course that keeps labs of its own; the engine's tests use a
small lab of their own). A lab outside the course's `labs` package imports its own modules
relatively (`from .names import POOL`). `DEFAULT` is the course's labs package.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from hashlib import sha1
from pathlib import Path
from types import ModuleType

from grader.core.i18n import ENGINE_CATALOG, LANGUAGES, Catalog
from grader.errors import UsageError


@dataclass(frozen=True)
class Scope:
    """What a lab needs read from each host. None means every object of that kind."""

    pools: frozenset[str] | None = None
    domains: frozenset[str] | None = None
    host_facts: bool = False     # hostname and libvirt version (the host UUID is always read)
    job_stats: bool = False      # completed-job statistics (migration evidence)

    @classmethod
    def of(cls, pools=None, domains=None, host_facts: bool = False, job_stats: bool = False) -> "Scope":
        """Names as any iterable, or None / '*' for every object of that kind."""
        def names(value):
            return None if value is None or value == "*" else frozenset(value)
        return cls(names(pools), names(domains), host_facts, job_stats)

    def wants_pool(self, name: str) -> bool:
        return self.pools is None or name in self.pools

    def wants_domain(self, name: str) -> bool:
        return self.domains is None or name in self.domains


@dataclass(frozen=True)
class Exercise:
    id: str
    points: int
    text: dict[str, str]


@dataclass(frozen=True)
class StartOption:
    """An option a lab's `lab start` takes (e.g. lab4's --share), declared in its lab.toml."""

    name: str
    metavar: str
    help: str


@dataclass
class Lab:
    id: str
    title: dict[str, str]
    roles: tuple[str, ...]
    exercises: tuple[Exercise, ...]
    scope: Scope
    folder: Path
    package: str
    start_options: tuple[StartOption, ...] = ()
    checks: dict = field(default_factory=dict)
    catalog: Catalog = field(default_factory=Catalog)

    @property
    def max_score(self) -> int:
        return sum(e.points for e in self.exercises)

    def exercise(self, exercise_id: str) -> Exercise:
        for ex in self.exercises:
            if ex.id == exercise_id:
                return ex
        known = ", ".join(e.id for e in self.exercises)
        raise UsageError(f"lab {self.id} has no exercise {exercise_id!r}: use one of {known}")

    def module(self, name: str) -> ModuleType:
        """A Python module of the lab's folder (names, checks, start, solution)."""
        return importlib.import_module(f"{self.package}.{name}")


class Labs:
    """The labs of one folder, loaded once each."""

    def __init__(self, folder: Path, package: str | None = None):
        self.folder = Path(folder).resolve()
        self._package = package
        self._loaded: dict[str, Lab] = {}

    def available(self) -> list[str]:
        return sorted(p.parent.name for p in self.folder.glob("*/lab.toml"))

    def load(self, lab_id: str) -> Lab:
        if lab_id not in self._loaded:
            self._loaded[lab_id] = self._load(lab_id)
        return self._loaded[lab_id]

    def all(self) -> list[Lab]:
        return [self.load(lab_id) for lab_id in self.available()]

    @cached_property
    def package(self) -> str:
        """The import name of the folder: `labs` for the course's, a private name otherwise."""
        if self._package:
            return self._package
        name = "_labs_" + sha1(str(self.folder).encode()).hexdigest()[:10]
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(
                name, self.folder / "__init__.py", submodule_search_locations=[str(self.folder)])
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            if (self.folder / "__init__.py").exists():
                spec.loader.exec_module(module)
        return name

    def _load(self, lab_id: str) -> Lab:
        folder = self.folder / lab_id
        if not lab_id.replace("-", "").replace("_", "").isalnum() or not (folder / "lab.toml").is_file():
            raise UsageError(f"unknown lab {lab_id!r}: use one of {', '.join(self.available())}")
        data = tomllib.loads((folder / "lab.toml").read_text())
        exercises = tuple(Exercise(e["id"], int(e["points"]), {lang: e[lang] for lang in LANGUAGES})
                          for e in data["exercises"])
        options = tuple(StartOption(name, o.get("metavar", "VALUE"), o.get("help", ""))
                        for name, o in data.get("start", {}).get("options", {}).items())
        package = f"{self.package}.{lab_id}"
        names = importlib.import_module(f"{package}.names")
        scope = getattr(names, "SCOPE", None)
        if not isinstance(scope, Scope):
            raise RuntimeError(f"lab {lab_id}: names.py must define SCOPE = Scope.of(...)")
        lab = Lab(id=data["id"], title=data["title"], roles=tuple(data.get("roles", ["A"])),
                  exercises=exercises, scope=scope, folder=folder, package=package,
                  start_options=options,
                  catalog=Catalog.load(ENGINE_CATALOG, folder / "messages.toml"))
        lab.checks = _checks(lab)
        return lab


def _checks(lab: Lab) -> dict:
    module = lab.module("checks")
    found = {f.exercise_id: f for f in vars(module).values() if callable(f) and hasattr(f, "exercise_id")}
    ids = [e.id for e in lab.exercises]
    missing = [i for i in ids if i not in found]
    extra = [i for i in found if i not in ids]
    if missing or extra:
        raise RuntimeError(f"lab {lab.id}: checks do not match exercises (missing {missing}, unknown {extra})")
    return found


def _default_folder() -> Path:
    import labs

    return Path(labs.__file__).resolve().parent


#: The course's own labs (the `labs` package, installed beside `grader`).
DEFAULT = Labs(_default_folder(), package="labs")


_folders: dict[Path, Labs] = {}


def for_environment(env) -> Labs:
    """The labs the commands use: $LAB_LABS_DIR when set, else the course's own."""
    folder = env.get("LAB_LABS_DIR")
    if not folder:
        return DEFAULT
    path = Path(folder).resolve()
    if not path.is_dir():
        raise UsageError(f"LAB_LABS_DIR={folder!r} is not a directory: point it at a folder of labs "
                         "(one sub-folder with a lab.toml per lab) or unset it")
    return _folders.setdefault(path, Labs(path))


def load(lab_id: str) -> Lab:
    return DEFAULT.load(lab_id)


def available() -> list[str]:
    return DEFAULT.available()
