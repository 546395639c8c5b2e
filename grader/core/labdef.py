"""Labs are content: a folder per lab, found in a labs folder, loaded without touching the engine.

A lab folder holds:

    lab.toml        id, title, [needs] (roles, pool types, services, spare disks, kernel),
                    exercises (points, text in en/es), start options
    names.py        the lab's object names (pools, volumes, domains, snapshots) and SCOPE,
                    what the grader reads from each host; start, checks and solution import it;
                    optionally EVENTS, which events a watch saw explain which exercise
                    (grader.core.events.Explains)
    checks.py       one @check function per exercise (pure: evidence in, verdict out)
    messages.toml   the feedback catalog, English and Spanish side by side
    start.py        start(ctx) / finish(ctx): the lab's starting state (read-write, through
                    grader.provision)
    views.py        (optional) lab-specific XML views (grader.core.xmlmodel's Field, XmlView)
    solution.py, fixtures/

Discovery is explicit (every <folder>/*/lab.toml). The folder is injectable: `Labs(path)`, or
$LAB_LABS_DIR for the commands (a course that keeps labs of its own; the engine's tests use a
small lab of their own). Labs import their own modules relatively (`from .names import POOL`),
so a lab folder copied elsewhere loads its own code. `DEFAULT` is the course's labs package.
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

from grader.core.events import Explains
from grader.core.i18n import ENGINE_CATALOG, LANGUAGES, Catalog
from grader.errors import UsageError


@dataclass(frozen=True)
class Scope:
    """What a lab needs read from each host. None means every object of that kind."""

    pools: frozenset[str] | None = None
    domains: frozenset[str] | None = None
    host_facts: bool = False     # hostname and libvirt version (the host UUID is always read)
    job_stats: bool = False      # completed-job statistics (migration evidence)
    #: Domains whose disk files libvirt is asked to probe (virDomainGetBlockInfo): capacity,
    #: allocation and size of a file no pool lists yet, e.g. an external snapshot's overlay.
    block_info: frozenset[str] = frozenset()

    @classmethod
    def of(cls, pools=None, domains=None, host_facts: bool = False, job_stats: bool = False,
           block_info=()) -> "Scope":
        """Names as any iterable, or None / '*' for every object of that kind."""
        def names(value):
            return None if value is None or value == "*" else frozenset(value)
        return cls(names(pools), names(domains), host_facts, job_stats, frozenset(block_info))

    def wants_pool(self, name: str) -> bool:
        return self.pools is None or name in self.pools

    def wants_domain(self, name: str) -> bool:
        return self.domains is None or name in self.domains


@dataclass(frozen=True)
class Needs:
    """What a lab needs of its hosts, from lab.toml's [needs]: `lab doctor` checks a host against
    it, `lab hosts` gives VM hosts the spare disks it asks for, and the tests pick lab hosts by it.

        roles          the hosts a student works on: ["A"], or ["A", "B"] (lab4)
        pools.ROLE     the pool types the lab defines on that role's host, one entry per pool;
                       an entry "iscsi|iscsi-direct" is satisfied by either type
        services       the course's shared services it uses: "share" (an NFS export or
                       GlusterFS volume, LAB_SHARE_*), "iscsi" (a target, LAB_ISCSI_*)
        service_pools  the pools it defines on those services (any other pool on them
                       conflicts: libvirt allows one pool per source)
        disks          spare block devices it erases (LAB_DISKS)
        kernel         a host with its own kernel (device-mapper, ZFS): VM hosts, not light ones
    """

    roles: tuple[str, ...] = ("A",)
    pools: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    service_pools: tuple[str, ...] = ()
    disks: int = 0
    kernel: bool = False

    SERVICES = ("share", "iscsi")

    @classmethod
    def from_toml(cls, data: dict, where: str) -> "Needs":
        """[needs] as lab.toml writes it; a wrong key or type is a RuntimeError naming it."""
        known = {"roles", "pools", "services", "service_pools", "disks", "kernel"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RuntimeError(f"{where} [needs] has unknown keys {unknown}: use {sorted(known)}")
        roles = tuple(_strings(data.get("roles", ["A"]), f"{where} [needs] roles"))
        pools = {}
        for role, entries in _table(data.get("pools", {}), f"{where} [needs.pools]").items():
            if role not in roles:
                raise RuntimeError(f"{where} [needs.pools] names role {role!r}, not one of {list(roles)}")
            pools[role] = tuple(tuple(e.split("|")) for e in _strings(entries, f"{where} [needs.pools] {role}"))
        services = tuple(_strings(data.get("services", []), f"{where} [needs] services"))
        if bad := [s for s in services if s not in cls.SERVICES]:
            raise RuntimeError(f"{where} [needs] services has {bad[0]!r}: use {list(cls.SERVICES)}")
        disks, kernel = data.get("disks", 0), data.get("kernel", False)
        if not isinstance(disks, int) or isinstance(disks, bool) or disks < 0:
            raise RuntimeError(f"{where} [needs] disks must be a number of disks, not {disks!r}")
        if not isinstance(kernel, bool):
            raise RuntimeError(f"{where} [needs] kernel must be true or false, not {kernel!r}")
        return cls(roles=roles, pools=pools, services=services,
                   service_pools=tuple(_strings(data.get("service_pools", []), f"{where} [needs] service_pools")),
                   disks=disks, kernel=kernel)


def _strings(value, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RuntimeError(f"{where} must be a list of names, not {value!r}")
    return value


def _table(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise RuntimeError(f"{where} must be a table, not {value!r}")
    return value


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
    needs: Needs
    exercises: tuple[Exercise, ...]
    scope: Scope
    folder: Path
    package: str
    start_options: tuple[StartOption, ...] = ()
    #: which events seen by a watch explain which exercise (names.py's EVENTS; none by default)
    explains: tuple[Explains, ...] = ()
    checks: dict = field(default_factory=dict)
    catalog: Catalog = field(default_factory=Catalog)

    @property
    def roles(self) -> tuple[str, ...]:
        return self.needs.roles

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
        if "roles" in data:
            raise RuntimeError(f"{folder / 'lab.toml'}: roles belong in [needs] (roles = {data['roles']!r})")
        needs = Needs.from_toml(data.get("needs", {}), str(folder / "lab.toml"))
        lab = Lab(id=data["id"], title=data["title"], needs=needs,
                  exercises=exercises, scope=scope, folder=folder, package=package,
                  start_options=options, explains=_explains(names, lab_id, exercises),
                  catalog=Catalog.load(ENGINE_CATALOG, folder / "messages.toml"))
        lab.checks = _checks(lab)
        return lab


def _explains(names: ModuleType, lab_id: str, exercises: tuple[Exercise, ...]) -> tuple[Explains, ...]:
    """names.py's EVENTS: a tuple of Explains lines, each about one of the lab's exercises."""
    table = tuple(getattr(names, "EVENTS", ()))
    ids = {e.id for e in exercises}
    for line in table:
        if not isinstance(line, Explains):
            raise RuntimeError(f"lab {lab_id}: names.py's EVENTS holds {line!r}: use Explains.of(...) lines")
        if line.exercise not in ids:
            raise RuntimeError(f"lab {lab_id}: names.py's EVENTS names exercise {line.exercise!r}, "
                               f"not one of {sorted(ids)}")
    return table


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
