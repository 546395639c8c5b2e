"""The course's glossary (course/glossary.toml): one Spanish term per idea, and where a text strays.

The course text, the notebooks and the Spanish comments in the course's code all follow it;
`misuses` finds the terms a Spanish text should not use, outside `code` spans and fences, outside
glosses written as "(*English term*)" and outside labels quoted from another program's Spanish
interface as «…» (virt-manager's «Almacenamiento de respaldo» is its word, not the course's). A
term matches across a line break too: markdown wraps paragraphs anywhere. `table` renders it for
the course (`@glossary`).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader import ROOT

GLOSSARY = ROOT / "course" / "glossary.toml"

#: What is not running text: fenced code, `inline code`, English glosses "(*storage pool*)" and
#: another program's interface quoted as «label» (a gloss or a label may wrap over a line break).
_NOT_PROSE = re.compile(r"```.*?```|`[^`\n]*`|\(\*[^*]+?\*\)|«[^»]+»", re.S)


@dataclass(frozen=True)
class Term:
    en: str
    es: str
    avoid: tuple[str, ...]


def load(path: Path = GLOSSARY) -> list[Term]:
    data = tomllib.loads(path.read_text())
    return [Term(t["en"], t["es"], tuple(t.get("avoid", ()))) for t in data["term"]]


def prose(text: str) -> str:
    """The running text of markdown: code and glosses blanked out (line numbers kept)."""
    return _NOT_PROSE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def misuses(text: str, terms: list[Term]) -> list[str]:
    """'avoided (say: preferred) at line N' for every avoided term in the running text, also when
    a line break (or any run of spaces) falls between its words; N is the line where it starts."""
    found = []
    running = prose(text)
    for term in terms:
        for word in term.avoid:
            for match in re.finditer(_pattern(word), running, re.I):
                line = running.count("\n", 0, match.start()) + 1
                said = re.sub(r"\s+", " ", match.group(0))
                found.append(f"{said!r} (say: {term.es}) at line {line}")
    return found


def _pattern(word: str) -> str:
    """The term as a whole word or words, any whitespace between its words."""
    words = (re.escape(w) for w in word.split())
    return r"(?<![\w-])" + r"\s+".join(words) + r"(?![\w-])"


def table(lang: str, terms: list[Term] | None = None) -> str:
    """The glossary as a markdown table, the reader's language first."""
    terms = load() if terms is None else terms
    head = ("| English | español |", "| español | English |")[lang == "es"]
    rows = [f"| {t.en} | {t.es} |" if lang != "es" else f"| {t.es} | {t.en} |"
            for t in sorted(terms, key=lambda t: (t.es if lang == "es" else t.en).lower())]
    return "\n".join([head, "| --- | --- |", *rows])
