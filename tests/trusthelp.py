"""What the trust tests (docs/trust.md, issue 18) do the same way on every lab host: stage a state
as a student types it (plain `virsh`, a command inside a light host's mount namespace), and grade
it with the installed `grade` command in English and Spanish: scores and message keys from
`--format json`, and the feedback as a student reads it, from the table.

Commands run as subprocesses with the `lab hosts env` variables (LAB_SHARE_MARKER included, the
reference `grade` compares the export's marker with), never through the grader's own modules.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
LANGS = ("en", "es")

#: Words that would tell a student how to fake what the grader checks (docs/trust.md: feedback
#: names the missing fact and the intended way, never a way to forge it), in either language.
FORGING_HINTS = ("redefin", "metadat", "tmpfs", "mount -t", "nsenter", "qemu-io", "touch ",
                 "date -s", "/run/libvirt", "status file", "fichero de estado", "--set")
#: Words that would accuse instead of naming the missing fact (the feedback stays neutral).
ACCUSING = ("forg", "fake", "cheat", "fraud", "falsif", "trampa", "tramposo", "engañ")

#: Labs whose pools mount the same export: libvirt refuses two pools on one source on a host
#: ("Storage source conflict"), so starting one removes the other first.
SAME_EXPORT = {"lab1": ("lab4",), "lab4": ("lab1",)}


def run(argv, env: dict, timeout: float = 600, check: bool = True,
        stdin: str | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True,
                          timeout=timeout, input=stdin)
    if check:
        assert done.returncode == 0, f"{' '.join(map(str, argv))}: {done.stderr.strip() or done.stdout.strip()}"
    return done


def virsh(env: dict, uri: str, *args: str, stdin: str | None = None) -> str:
    """`virsh -c URI ARGS`, as the student types it; fails the test with virsh's error."""
    return run(["virsh", "-q", "-c", uri, *args], env, stdin=stdin).stdout


def host_args(hosts: dict[str, str]) -> list[str]:
    return [arg for role, uri in hosts.items() for arg in ("--host", f"{role}={uri}")]


def lab_start(lab_id: str, hosts: dict[str, str], env: dict, *extra: str) -> None:
    """`lab start LAB` as the student runs it, after removing the labs that mount the same
    export on these hosts (they would keep this lab's pool from starting)."""
    for other in SAME_EXPORT.get(lab_id, ()):
        lab_finish(other, _roles(other, hosts, env), env)
    run([BIN / "lab", "start", lab_id, *host_args(hosts), *extra], env)


def _roles(lab_id: str, hosts: dict[str, str], env: dict) -> dict[str, str]:
    """The hosts another lab uses beside these: lab4 also B (the lab hosts' b by default)."""
    if lab_id == "lab4":
        return {"A": hosts["A"], "B": hosts.get("B") or env["LAB_URI_B"]}
    return {"A": hosts["A"]}


def lab_finish(lab_id: str, hosts: dict[str, str], env: dict, check: bool = True) -> None:
    run([BIN / "lab", "finish", lab_id, *host_args(hosts)], env, check=check)


def light_host_pid(uri: str, env: dict) -> int:
    """libvirtd of the light lab host behind `uri` (its mount namespace holds the host's
    /var/lib/libvirt), found as the fixture capture scripts find it."""
    from grader.labhosts import daemons
    from grader.labhosts.config import Settings

    settings = Settings.from_env(env)
    for name in daemons.known(settings):
        if settings.uri(name) == uri and daemons.pid(settings, name):
            return daemons.pid(settings, name)
    raise AssertionError(f"{uri} is not a light lab host of LAB_HOME={settings.home}")


def in_namespace(uri: str, env: dict, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    """A command run by the host's root inside a light lab host's mount namespace."""
    return run(["nsenter", "-t", str(light_host_pid(uri, env)), "-m", "--", *argv], env, check=check)


def mounted_at(uri: str, env: dict, path: str) -> list[str]:
    """The /proc/mounts lines of a light host for `path` (what libvirt takes as mounted)."""
    lines = in_namespace(uri, env, "cat", "/proc/mounts").stdout.splitlines()
    return [line for line in lines if line.split()[1:2] == [path]]


def unmount_all(uri: str, env: dict, path: str) -> None:
    """Clean-up: whatever is still mounted at `path` on a light host (a look-alike left behind)."""
    for _ in mounted_at(uri, env, path):
        in_namespace(uri, env, "umount", path, check=False)


# --- grading ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One exercise as the table shows it."""

    points: str
    max: str
    text: str


@dataclass
class Graded:
    """One state, graded in both languages: `json[lang][exercise]` as `--format json` gives it,
    `table[lang][exercise]` as the student reads it."""

    json: dict[str, dict[str, dict]] = field(default_factory=dict)
    table: dict[str, dict[str, Row]] = field(default_factory=dict)

    def scores(self, lang: str = "en") -> dict[str, float]:
        return {k: e["score"] for k, e in self.json[lang].items()}

    def total(self, lang: str = "en") -> float:
        return sum(self.scores(lang).values())

    def full(self, lang: str = "en") -> bool:
        return all(e["score"] == e["max_score"] for e in self.json[lang].values())

    def keys(self, exercise: str) -> list[str]:
        return self.json["en"][exercise]["messages"]

    def summary(self) -> dict:
        """Scores and messages, for assertion messages."""
        return {k: (e["score"], e["messages"], e["feedback"]) for k, e in self.json["en"].items()}


def grade(lab_id: str, hosts: dict[str, str], env: dict, table: bool = True,
          langs=LANGS) -> Graded:
    """`grade LAB --host ROLE=URI ...`: JSON and (with `table`) the table, in each language."""
    graded = Graded()
    for lang in langs:
        graded.json[lang] = _json(lab_id, hosts, env, lang)
        if table:
            done = run([BIN / "grade", lab_id, *host_args(hosts), "--lang", lang], env)
            graded.table[lang] = table_rows(done.stdout)
    return graded


def _json(lab_id: str, hosts: dict[str, str], env: dict, lang: str) -> dict[str, dict]:
    done = run([BIN / "grade", lab_id, *host_args(hosts), "--format", "json", "--lang", lang], env)
    assert "Traceback" not in done.stderr, done.stderr
    result = json.loads(done.stdout)["results"][0]
    assert result["status"] == "graded", result
    return {e["id"]: e for e in result["exercises"]}


def table_rows(text: str) -> dict[str, Row]:
    """The rows of the one-student table: exercise -> points, maximum and the feedback as one
    line (rich wraps it inside its column; continuation lines have an empty first cell)."""
    rows: dict[str, list] = {}
    current = None
    for line in text.splitlines():
        if not line.startswith("│"):
            current = None
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) < 4:
            continue
        if cells[0]:
            current = rows.setdefault(cells[0], [cells[1], cells[2], []])
        if current is not None:
            current[2].append(cells[3])
    return {k: Row(p, m, squash(" ".join(t))) for k, (p, m, t) in rows.items()}


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def check_reads(graded: Graded, exercise: str, score: float, keys: list[str],
                phrases: dict[str, tuple[str, ...]]) -> None:
    """The exercise earned `score` with these message keys in both languages; the table shows
    the same points and the feedback, which holds every phrase of its language (what is missing,
    and the intended way), and no word of forging or accusing."""
    for lang in LANGS:
        got = graded.json[lang][exercise]
        assert (got["score"], got["messages"]) == (score, keys), (lang, got)
        row = graded.table[lang][exercise]
        assert float(row.points) == score and float(row.max) == got["max_score"], (lang, row)
        assert _same_words(got["feedback"], row.text), (lang, row.text, got["feedback"])
        for phrase in phrases[lang]:
            assert phrase in row.text, f"{lang}: {phrase!r} not in what the student reads: {row.text}"
        check_neutral(row.text)


def _same_words(a: str, b: str) -> bool:
    """The table folds long words (paths) across lines: compare without any whitespace."""
    return re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b)


def check_neutral(text: str) -> None:
    low = text.lower()
    hints = [w for w in FORGING_HINTS if w in low]
    assert not hints, f"feedback shows a way to forge ({hints}): {text}"
    accusing = [w for w in ACCUSING if w in low]
    assert not accusing, f"feedback accuses ({accusing}): {text}"


def check_full(graded: Graded, lab_max: float) -> None:
    """Full marks in both languages, and the table says so."""
    for lang in LANGS:
        assert graded.full(lang) and graded.total(lang) == lab_max, (lang, graded.summary())
        if graded.table:
            total = next(row for name, row in graded.table[lang].items() if name.lower() == "total")
            assert float(total.points) == lab_max == float(total.max), (lang, total)


@contextmanager
def exported(env: dict):
    """This process's environment as a student's shell or notebook has it after `eval "$(lab
    hosts env)"`, for the solutions' functions (e.g. LAB_MIGRATE_FLAGS for the migration)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            if key.startswith("LAB_") or key == "LIBVIRT_DEFAULT_URI":
                patch.setenv(key, value)
        yield


def environment(lab_env: dict) -> dict:
    """This process's environment with the lab hosts' variables (`lab hosts env`)."""
    env = {**os.environ, **lab_env}
    env.pop("NBGRADER_EXECUTION", None)
    return env
