"""The course text, written once with both languages side by side, rendered to course.md and course.es.md.

Sources are course/*.md, read in name order. Prose comes in pairs, so no paragraph exists in one
language only:

    :::en
    English text
    :::es
    Texto en español
    :::

Outside a pair only language-neutral lines are allowed: blank lines, fenced code, HTML and these
directives:

* `@side-by-side` ... `@end` holds a `virsh` fence and a Python fence and renders them as two
  columns (two ways to do the same thing: `lab course test` runs each column's track on its own).
* `@exercises LAB ID:POINTS...` renders the exercises that practise a section, linked to the
  lab's notebook (tests/test_i18n.py checks ids and points against labs/LAB/lab.toml).
* `@vm-host English reason ‖ razón en español`, just before a fence: a block that needs a host
  with its own kernel (device-mapper, ZFS, spare disks). It renders as an HTML comment that
  `lab course test` reads (grader.course.coursetest): it runs the block on VM hosts
  (`lab hosts up --vm`) and, on light hosts, skips it with that reason.
* `@not-here English reason ‖ razón en español`, just before a fence: a block that can run on no
  kind of lab host, rendered and read the same way (the course has none: every example runs on
  light or on VM hosts; tests/test_course_examples.py keeps it so).
* `@glossary` renders the course glossary (course/glossary.toml) as a table.

Code is shared by both languages, and so are its comments: each is written once in both,
`# English ‖ español`, and each rendered file keeps its own half. A comment in one language only
is an error, like a paragraph in one language only, and so is a stale rendered file
(tests/test_i18n.py).
(Named coursetext, not course: "course" is also nbgrader's and the class report's word for a class.)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader import ROOT
from grader.errors import UsageError
from grader.core.i18n import LANGUAGES

SOURCES = ROOT / "course"
OUTPUTS = {"en": ROOT / "course.md", "es": ROOT / "course.es.md"}

_HEADER = {
    "en": "<!-- Generated from course/*.md by `lab course build`: edit the sources, not this file. "
          "Spanish: course.es.md. -->\n",
    "es": "<!-- Generado a partir de course/*.md con `lab course build`: edita las fuentes, no este "
          "fichero. English: course.md. -->\n",
}
_EXERCISES = {
    "en": ("Practise it", "notebook", "pts"),
    "es": ("Para practicar", "cuaderno", "ptos"),
}


class CourseError(UsageError):
    """A course source breaks the format: the message names the file and line."""


@dataclass(frozen=True)
class Block:
    """One piece of a source: `lang` is None for shared lines, else the language of a paired text."""

    lang: str | None
    lines: tuple[str, ...]
    where: str


def parse(path: Path) -> list[Block]:
    """Split a source into shared blocks and en/es pairs; refuse a text in one language only."""
    blocks: list[Block] = []
    shared: list[str] = []
    lines = path.read_text().splitlines()
    i, fence = 0, False
    while i < len(lines):
        line, where = lines[i], f"{path.name}:{i + 1}"
        if line.startswith("```"):
            fence = not fence
            shared.append(line)
        elif fence:
            localize(line, "en", where)  # raises on a comment in one language only
            shared.append(line)
        elif (note := _note(line)) is not None:
            _halves(line.strip()[len(note):].strip(), where, f"{note}'s reason")
            shared.append(line)
        elif line.strip() == ":::en":
            blocks.append(Block(None, tuple(shared), where))
            shared = []
            en, i = _until(lines, i + 1, ":::es", path, "English text without its Spanish partner")
            es, i = _until(lines, i + 1, ":::", path, "Spanish text not closed with :::")
            if not "".join(en).strip() or not "".join(es).strip():
                raise CourseError(f"{where}: a pair with an empty language")
            blocks += [Block("en", tuple(en), where), Block("es", tuple(es), where)]
        elif line.strip().startswith(":::"):
            raise CourseError(f"{where}: {line.strip()!r} outside a pair (a pair starts with :::en)")
        elif _neutral(line):
            shared.append(line)
        else:
            raise CourseError(f"{where}: text outside an :::en/:::es pair: {line.strip()[:60]!r}")
        i += 1
    if fence:
        raise CourseError(f"{path.name}: a code fence is not closed")
    blocks.append(Block(None, tuple(shared), path.name))
    return blocks


def _until(lines: list[str], start: int, marker: str, path: Path, problem: str) -> tuple[list[str], int]:
    for j in range(start, len(lines)):
        if lines[j].strip() == marker:
            return lines[start:j], j
        if lines[j].strip().startswith(":::"):
            raise CourseError(f"{path.name}:{j + 1}: {problem}")
    raise CourseError(f"{path.name}:{start}: {problem}")


def _neutral(line: str) -> bool:
    text = line.strip()
    return not text or text.startswith(("<", "@side-by-side", "@end", "@exercises", "@glossary",
                                        *NOTES))


#: The two halves of a bilingual comment or reason: "English ‖ español".
BOTH = " ‖ "
#: A comment in a code fence: `#` at the start of a line or after a space, then a space.
_COMMENT = re.compile(r"(^|\s)#\s")

#: What `lab course test` looks for before a fence, per directive: where the block runs, and why.
NOTES = {
    "@not-here": "<!-- not run here: {reason} -->",
    "@vm-host": "<!-- VM hosts: {reason} -->",
}
NOT_HERE = NOTES["@not-here"]
VM_HOST = NOTES["@vm-host"]


def _note(line: str) -> str | None:
    """The note directive (`@not-here`, `@vm-host`) a source line starts with, if any."""
    word = line.strip().split(" ", 1)[0]
    return word if word in NOTES else None


def _halves(text: str, where: str, what: str) -> tuple[str, str]:
    if text.count(BOTH) != 1:
        raise CourseError(f"{where}: {what} in one language only: write `English{BOTH}español`")
    en, es = text.split(BOTH)
    if not en.strip() or not es.strip():
        raise CourseError(f"{where}: {what} with an empty language")
    return en.rstrip(), es.strip()


def localize(line: str, lang: str, where: str = "") -> str:
    """A line of code with its comment, if any, in `lang`: `x  # English ‖ español`."""
    match = _COMMENT.search(line)
    if not match:
        return line
    start = match.start() + len(match.group(1))
    en, es = _halves(line[start + 1:].strip(), where, "a code comment")
    return f"{line[:start]}# {en if lang == 'en' else es}"


def render(lang: str, sources: Path = SOURCES) -> str:
    if lang not in LANGUAGES:
        raise CourseError(f"unknown language {lang!r}")
    out = [_HEADER[lang]]
    for path in sorted(sources.glob("*.md")):
        for block in parse(path):
            if block.lang in (None, lang):
                out.append(_expand(block.lines, lang))
    text = "\n".join(out)
    text = re.sub(r"^<!-- Course source.*-->\n", "", text, flags=re.M)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _expand(lines: tuple[str, ...], lang: str) -> str:
    lines = _localized(lines, lang)
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("@exercises"):
            _, lab, *ids = line.split()
            out.append(exercises(lab, ids, lang))
        elif (note := _note(line)) is not None:
            en, es = _halves(line.strip()[len(note):].strip(), "", f"{note}'s reason")
            out.append(NOTES[note].format(reason=en if lang == "en" else es))
        elif line.strip() == "@glossary":
            from grader.course import glossary

            out.append(glossary.table(lang))
        elif line.strip() == "@side-by-side":
            if "@end" not in lines[i:]:
                raise CourseError("@side-by-side without its @end")
            end = lines.index("@end", i)
            out.append(_two_columns(lines[i + 1:end], lang))
            i = end
        else:
            out.append(line)
        i += 1
    return "\n".join(out)


def _localized(lines: tuple[str, ...], lang: str) -> tuple[str, ...]:
    """The lines with each code comment in `lang`."""
    out, fence = [], False
    for line in lines:
        if line.startswith("```"):
            fence = not fence
            out.append(line)
        else:
            out.append(localize(line, lang) if fence else line)
    return tuple(out)


def _two_columns(lines: tuple[str, ...], lang: str) -> str:
    """Two fenced blocks (virsh, then Python) as a two-column HTML table that GitHub renders; a
    fence keeps the `@vm-host` or `@not-here` note written just before it."""
    text = "\n".join(lines)
    fences = re.findall(r"^((?:@(?:not-here|vm-host) [^\n]*\n)?)(```.*?^```)", text, flags=re.S | re.M)
    if len(fences) != 2:
        raise CourseError("@side-by-side needs exactly two code fences (virsh, then Python)")
    left, right = (_expand((note.strip(),), lang) + "\n" + fence if note else fence
                   for note, fence in fences)
    return ("<table><tr><th>virsh</th><th>Python (libvirt)</th></tr><tr><td>\n\n"
            f"{left}\n\n</td><td>\n\n{right}\n\n</td></tr></table>")


def exercises(lab: str, items: list[str], lang: str) -> str:
    """`ID:POINTS` items as a linked list. Texts stay in lab.toml and the notebook, so that editing
    an exercise text never makes this file stale; ids and points are the curriculum's contract, and
    tests/test_i18n.py checks them against lab.toml."""
    title, nb_word, pts = _EXERCISES[lang]
    pairs = [item.partition(":")[::2] for item in items]
    if not pairs or any(not i or not p.isdigit() for i, p in pairs):
        raise CourseError(f"@exercises {lab}: write each exercise as ID:POINTS")
    listed = ", ".join(f"`{i}` [{p} {pts}]" for i, p in pairs)
    return f"**{title}:** [{lab}](notebooks/{lab}/{lab}.ipynb) ({nb_word}): {listed}."


def directives(sources: Path = SOURCES) -> dict[str, dict[str, int]]:
    """Every @exercises line of the sources: lab -> {exercise id: points}."""
    found: dict[str, dict[str, int]] = {}
    for path in sorted(sources.glob("*.md")):
        for line in path.read_text().splitlines():
            if line.startswith("@exercises"):
                _, lab, *items = line.split()
                for item in items:
                    exercise, _, points = item.partition(":")
                    found.setdefault(lab, {})[exercise] = int(points)
    return found


def stale() -> list[str]:
    """Rendered files that differ from what the sources give now."""
    return [path.name for lang, path in OUTPUTS.items()
            if not path.is_file() or path.read_text() != render(lang)]


def build() -> list[Path]:
    for lang, path in OUTPUTS.items():
        path.write_text(render(lang))
    return list(OUTPUTS.values())
