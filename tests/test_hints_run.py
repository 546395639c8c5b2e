"""Hints that run: every command a student is told to type is parsed by the real tool.

A feedback message, a course block or a notebook's markdown that says "run `virsh ...`" must name
a command the tool accepts: a hint that fails ("option --pool already seen") teaches the wrong
thing at the moment a student is stuck. Each `virsh` command is run against libvirt's test
driver (`test:///default`, a hypervisor in virsh's own memory: nothing on this machine changes),
so virsh's own option parser and its checks of which options go together judge it; what the test
driver then cannot do (migrate, build a pool) is an error past parsing, and passes. Each `lab` and
`grade` command is parsed by its click command, with `--help` so that nothing runs.

Placeholders a text asks the student to fill in are given a value of their kind: SIZE or TAMAÑO a
size, other words in capitals (NAME, POOL, URI_B...) and shell variables ($A, "$LAB_SHARE_HOST")
a name; `$LAB_MIGRATE_FLAGS` is what `lab hosts env` prints for light hosts. The texts are read
as they are: fenced code and `inline code` of the rendered course (both languages), the
notebooks' markdown cells, every lab's feedback messages and exercise texts, the engine's
messages, and the commands lab2's checks put into its feedback.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from grader import ROOT
from grader.core.i18n import ENGINE_CATALOG
from grader.course import coursetext

TOOLS = ("virsh", "lab", "grade")
#: virsh's messages for a command line it cannot take (vsh.c and virsh's commands), not for a
#: missing object or an operation the test driver lacks.
USAGE = re.compile(
    r"unknown command|command or command group '.*' doesn't exist|doesn't support option"
    r"|already seen|expected syntax|requires <.*> option|requires --\S+ option|unexpected data"
    r"|mutually exclusive|is required by option|requires at least one of|requires an argument"
    r"|malformed or out of range|Malformed size|invalid '=' after option|dangling \\"
    r"|missing argument|requires --|requires '")
SIZES = {"SIZE", "TAMAÑO", "CAPACITY", "CAPACIDAD"}
PLACEHOLDER = re.compile(r"^[A-ZÁÉÍÓÚÑ][A-ZÁÉÍÓÚÑ0-9_-]+$")
LIGHT_MIGRATE_FLAGS = "--migrateuri tcp://127.0.0.1 --listen-address 127.0.0.1"
#: Words that name an operation, not a command to type ("made with `virsh pool-create`").
MENTIONS = {("virsh", "pool-create"), ("virsh", "create"), ("virsh", "define"), ("virsh", "start"),
            ("virsh", "migrate")}


# --- finding the commands --------------------------------------------------------------------------

def snippets(markdown: str) -> list[str]:
    """The code a markdown text shows: its fences (sh, none) and its `inline code`."""
    found, prose, fence = [], [], None
    for line in markdown.splitlines():
        if line.startswith("```"):
            if fence is None:
                fence, language = [], line[3:].strip()
            else:
                if language in ("sh", "bash", ""):
                    found.append("\n".join(fence))
                fence = None
        elif fence is not None:
            fence.append(line)
        else:
            prose.append(line)
    return found + re.findall(r"`([^`\n]+)`", "\n".join(prose))


def commands(snippet: str) -> list[list[str]]:
    """Each `virsh`, `lab` or `grade` command of a snippet of shell, as its words."""
    text = re.sub(r"\\\n\s*", " ", snippet)
    text = text.replace("$LAB_MIGRATE_FLAGS", LIGHT_MIGRATE_FLAGS)
    text = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "x", text)
    found = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#\s.*$", "", line)   # a comment, in any language
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
            lexer.whitespace_split = True
            words = list(lexer)
        except ValueError:   # an unclosed quote: prose quoting a piece of a command
            continue
        segment: list[str] = []
        for word in [*words, ";"]:
            if word and set(word) <= set(";&|()"):   # ; && || | and parentheses end a command
                if len(segment) > 1 and segment[0] in TOOLS:
                    found.append(_without_redirections(segment))
                segment = []
            else:
                segment.append(word)
    return [c for c in found if (c[0], c[1]) not in MENTIONS or len(c) > 2]


def _without_redirections(words: list[str]) -> list[str]:
    """`> copy.xml`, `2>/dev/null`, `2>&1` are the shell's, not the command's."""
    out, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word and set(word) <= set("<>&"):
            if out and out[-1].isdigit():
                out.pop()
            skip = True
        else:
            out.append(word)
    return out


def filled(words: list[str]) -> list[str]:
    """The placeholders of a command given a value of their kind."""
    return ["1G" if w in SIZES else "x" if PLACEHOLDER.match(w) and not w.startswith("-") else w
            for w in words]


def _course() -> list[tuple[str, str]]:
    return [(f"{path.name}", snippet) for path in coursetext.OUTPUTS.values()
            for snippet in snippets(path.read_text())]


def _notebooks() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "notebooks").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        found += [(f"{path.parent.name} cell {i}", s) for i, cell in enumerate(nb.cells)
                  if cell.cell_type == "markdown" for s in snippets(cell.source)]
    return found


def _feedback() -> list[tuple[str, str]]:
    found = []
    catalogs = [*sorted((ROOT / "labs").glob("*/messages.toml")), ENGINE_CATALOG]
    for path in catalogs:
        for key, entry in tomllib.loads(path.read_text()).items():
            for lang in ("en", "es"):
                text = re.sub(r"\{(\w+)\}", "x", entry[lang])
                found += [(f"{path.parent.name} {key} ({lang})", s) for s in snippets(text)]
    for path in sorted((ROOT / "labs").glob("*/lab.toml")):
        for exercise in tomllib.loads(path.read_text()).get("exercises", []):
            for lang in ("en", "es"):
                found += [(f"{path.parent.name} {exercise['id']} ({lang})", s)
                          for s in snippets(exercise[lang])]
    from labs.lab2.checks import HOW_TO_CREATE

    found += [(f"lab2 how to create {name}", command) for name, command in HOW_TO_CREATE.items()]
    return found


def every_command() -> dict[tuple[str, ...], list[str]]:
    """Each distinct command (placeholders filled) and where it is written."""
    where: dict[tuple[str, ...], list[str]] = {}
    for place, snippet in _course() + _notebooks() + _feedback():
        for words in commands(snippet):
            where.setdefault(tuple(filled(words)), []).append(place)
    return where


COMMANDS = every_command()


# --- asking the tools -------------------------------------------------------------------------------

def virsh_verdict(words: list[str], cwd: Path) -> str | None:
    """None when virsh takes the command line, else its complaint."""
    args, skip = [], False
    for word in words[1:]:
        if skip:
            skip = False
        elif word in ("-c", "--connect"):
            skip = True
        elif not word.startswith("--connect="):
            args.append(word)
    try:
        done = subprocess.run(["virsh", "-q", "-c", "test:///default", *args], capture_output=True,
                              text=True, timeout=15, cwd=cwd, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None   # it runs (an event loop, a console): parsing is long behind it
    complaints = [line for line in done.stderr.splitlines() if USAGE.search(line)
                  and not (mention(args) and MISSING.search(line))]
    return complaints[0] if complaints else None


#: What a command names without being typed whole: "`virsh blockcommit` merges it back",
#: "`virsh migrate --unsafe` would silence the check". It still must not hold a wrong option.
MISSING = re.compile(r"requires <.*> option|requires --\S+ option")


def mention(args: list[str]) -> bool:
    """A virsh command with no argument of its own after its name: it names the command (and maybe
    some options) in a sentence; a command to type names what it works on right after."""
    return len(args) == 1 or args[1].startswith("-")


def click_verdict(words: list[str]) -> str | None:
    from grader.cli.main import grade, lab

    command = {"lab": lab, "grade": grade}[words[0]]
    result = CliRunner().invoke(command, [*words[1:], "--help"])
    return None if result.exit_code == 0 else result.output.strip().splitlines()[-1]


# --- the tests --------------------------------------------------------------------------------------

def test_the_texts_hold_commands_of_every_kind_from_every_source():
    places = [p for ps in COMMANDS.values() for p in ps]
    assert sum(1 for words in COMMANDS if words[0] == "virsh") > 100
    assert any(words[0] == "lab" for words in COMMANDS) and any(words[0] == "grade" for words in COMMANDS)
    for source in ("course.md", "course.es.md", "lab1 cell", "lab5 cell", "lab5 snap-missing (es)",
                   "lab2 how to create", "lab3 ext-missing (en)"):
        assert any(p.startswith(source) for p in places), source


@pytest.mark.parametrize("snippet, found", [
    ("virsh pool-destroy lab1-dir; virsh pool-undefine lab1-dir",
     [["virsh", "pool-destroy", "lab1-dir"], ["virsh", "pool-undefine", "lab1-dir"]]),
    ("virsh -c $B pool-define-as lab4-local dir \\\n      --target /var/lib/libvirt/lab4-local",
     [["virsh", "-c", "x", "pool-define-as", "lab4-local", "dir", "--target", "/var/lib/libvirt/lab4-local"]]),
    ("virsh snapshot-create-as lab3-raw try || echo \"refused\"   # a comment ‖ un comentario",
     [["virsh", "snapshot-create-as", "lab3-raw", "try"]]),
    ("virsh vol-create-as lab2 disk-copy.qcow2 0 --print-xml > copy.xml",
     [["virsh", "vol-create-as", "lab2", "disk-copy.qcow2", "0", "--print-xml"]]),
    ("virsh migrate --live x $B $LAB_MIGRATE_FLAGS",
     [["virsh", "migrate", "--live", "x", "x", *LIGHT_MIGRATE_FLAGS.split()]]),
    ("virsh vol-dumpxml data-snap --pool lab5-vg | grep -A2 backingStore",
     [["virsh", "vol-dumpxml", "data-snap", "--pool", "lab5-vg"]]),
    ('eval "$(lab hosts env)"', []),
    ("made with virsh pool-create", []),
])
def test_commands_are_found_in_shell_as_a_reader_types_it(snippet, found):
    assert commands(snippet) == found


def test_placeholders_get_a_value_of_their_kind():
    assert filled(["virsh", "vol-create-as", "lab1-dir", "NOMBRE", "TAMAÑO", "--format", "FORMATO"]) == \
        ["virsh", "vol-create-as", "lab1-dir", "x", "1G", "--format", "x"]
    assert filled(["virsh", "vol-create-as", "lab2", "d", "1G"]) == ["virsh", "vol-create-as", "lab2", "d", "1G"]


@pytest.mark.parametrize("words, complaint", [
    # the hint of issue 20: virsh reads the pool from the first positional argument already
    ("virsh vol-create-as lab5-vg data-snap 64M --backing-vol data --pool lab5-vg", "already seen"),
    ("virsh pool-info --bogus lab1-dir", "doesn't support option"),
    ("virsh pool-frobnicate lab1-dir", "unknown command"),
    ("virsh snapshot-create-as lab3-vm x --disk-only --atomic", None),
    ("virsh snapshot-create-as lab3-vm --disk-only --redefine", "doesn't support option"),
    # a command to type names its objects; one named in a sentence may leave them out
    ("virsh snapshot-create-as --disk-only", None),
    ("virsh blockcommit", None),
    ("virsh vol-create-as lab2 disk.qcow2", "requires <capacity> option"),
])
def test_virsh_judges_a_command_line_by_its_own_parser(tmp_path, words, complaint):
    verdict = virsh_verdict(words.split(), tmp_path)
    assert (verdict is None) if complaint is None else (complaint in verdict), verdict


def test_a_command_that_only_fails_on_the_test_driver_passes(tmp_path):
    assert virsh_verdict("virsh -c qemu+tcp://127.0.0.1:1/system pool-build lab5-vg".split(), tmp_path) is None
    assert virsh_verdict("virsh vol-create-as lab5-vg data-snap 64M --backing-vol data".split(), tmp_path) is None


def test_click_judges_lab_and_grade():
    assert click_verdict(["lab", "hosts", "down", "c", "--purge"]) is None
    assert click_verdict(["grade", "lab3", "--lang", "es"]) is None
    assert "No such option" in click_verdict(["grade", "lab3", "--language", "es"])


@pytest.mark.parametrize("words", sorted(w for w in COMMANDS if w[0] == "virsh"), ids=" ".join)
def test_every_virsh_command_a_student_is_told_to_type_parses(words, tmp_path):
    verdict = virsh_verdict(list(words), tmp_path)
    assert verdict is None, f"{verdict} — written in: {', '.join(sorted(set(COMMANDS[words])))}"


@pytest.mark.parametrize("words", sorted(w for w in COMMANDS if w[0] != "virsh"), ids=" ".join)
def test_every_lab_and_grade_command_a_student_is_told_to_type_parses(words):
    verdict = click_verdict(list(words))
    assert verdict is None, f"{verdict} — written in: {', '.join(sorted(set(COMMANDS[words])))}"
