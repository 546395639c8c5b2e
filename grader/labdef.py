"""Labs are content: a folder under labs/ with lab.toml, checks.py, messages.toml and start.py.

Discovery is explicit (every labs/*/lab.toml), so adding a lab means adding a folder and never
touching the engine.
"""
from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType

from grader import ROOT
from grader.checks import CheckFunction
from grader.collect import Scope
from grader.errors import UsageError
from grader.i18n import ENGINE_CATALOG, LANGUAGES, Catalog

LABS_DIR = ROOT / "labs"


@dataclass(frozen=True)
class Exercise:
    id: str
    points: int
    text: dict[str, str]


@dataclass
class Lab:
    id: str
    title: dict[str, str]
    roles: tuple[str, ...]
    exercises: tuple[Exercise, ...]
    scope: Scope
    folder: Path
    checks: dict[str, CheckFunction] = field(default_factory=dict)
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
        """A Python module of the lab's folder (checks, start)."""
        return importlib.import_module(f"labs.{self.id}.{name}")


def available() -> list[str]:
    return sorted(p.parent.name for p in LABS_DIR.glob("*/lab.toml"))


@cache
def load(lab_id: str) -> Lab:
    folder = LABS_DIR / lab_id
    if not (folder / "lab.toml").is_file():
        raise UsageError(f"unknown lab {lab_id!r}: use one of {', '.join(available())}")
    data = tomllib.loads((folder / "lab.toml").read_text())
    exercises = tuple(Exercise(e["id"], int(e["points"]), {lang: e[lang] for lang in LANGUAGES})
                      for e in data["exercises"])
    collect = data.get("collect", {})
    scope = Scope(pools=_names(collect.get("pools")), domains=_names(collect.get("domains")),
                  host_facts=bool(collect.get("host_facts", False)),
                  job_stats=bool(collect.get("job_stats", False)))
    lab = Lab(id=data["id"], title=data["title"], roles=tuple(data.get("roles", ["A"])),
              exercises=exercises, scope=scope, folder=folder,
              catalog=Catalog.load(ENGINE_CATALOG, folder / "messages.toml"))
    lab.checks = _checks(lab)
    return lab


def _names(value) -> frozenset[str] | None:
    """'*' (or nothing) means every object on the host; else a list of names."""
    if value is None or value == "*":
        return None
    return frozenset(value)


def _checks(lab: Lab) -> dict[str, CheckFunction]:
    module = lab.module("checks")
    found = {f.exercise_id: f for f in vars(module).values() if callable(f) and hasattr(f, "exercise_id")}
    ids = [e.id for e in lab.exercises]
    missing = [i for i in ids if i not in found]
    extra = [i for i in found if i not in ids]
    if missing or extra:
        raise RuntimeError(f"lab {lab.id}: checks do not match exercises (missing {missing}, unknown {extra})")
    return found
