"""The course's glossary (course/glossary.toml): one Spanish term per idea, and where a text strays.

The course text, the notebooks and the Spanish comments in the course's code all follow it;
`misuses` finds the terms a Spanish text should not use, outside `code` spans and fences and
outside glosses written as "(*English term*)". `table` renders it for the course (`@glossary`).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader import ROOT

GLOSSARY = ROOT / "course" / "glossary.toml"

#: What is not running text: fenced code, `inline code`, and English glosses "(*storage pool*)".
_NOT_PROSE = re.compile(r"```.*?```|`[^`\n]*`|\(\*[^*\n]+\*\)", re.S)


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
    """'avoided (say: preferred) at line N' for every avoided term in the running text."""
    found = []
    running = prose(text)
    for term in terms:
        for word in term.avoid:
            for match in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", running, re.I):
                line = running.count("\n", 0, match.start()) + 1
                found.append(f"{match.group(0)!r} (say: {term.es}) at line {line}")
    return found


def table(lang: str, terms: list[Term] | None = None) -> str:
    """The glossary as a markdown table, the reader's language first."""
    terms = load() if terms is None else terms
    head = ("| English | español |", "| español | English |")[lang == "es"]
    rows = [f"| {t.en} | {t.es} |" if lang != "es" else f"| {t.es} | {t.en} |"
            for t in sorted(terms, key=lambda t: (t.es if lang == "es" else t.en).lower())]
    return "\n".join([head, "| --- | --- |", *rows])
