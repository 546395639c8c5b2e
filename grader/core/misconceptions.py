"""The class at a glance, by misconception: per exercise, which feedback message holds how many
students back.

A check's message keys name what went wrong ("clean-not-shutoff": taken while running,
"revert-skipped", "live-disk-not-shared"), and a class's results carry them per exercise
(ExerciseResult.messages). Counting the students each key holds, on exercises short of full
marks, shows the instructor the class's top mistake, to explain once to everyone. Pure: results
in, counts out; `gist` is the message's text in the reader's language, without one student's
particulars (its placeholders).
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Iterable

from grader.core.i18n import Catalog
from grader.core.results import GRADED, StudentResult


@dataclass(frozen=True)
class Held:
    """The students (in result order) one message key holds back in one exercise."""

    exercise: str
    key: str
    students: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.students)


def held(results: Iterable[StudentResult], exercises: Iterable[str]) -> dict[str, list[Held]]:
    """Per exercise (in the order given), each message key on graded students' results that
    fell short of full marks, with the students it holds: most students first."""
    per: dict[str, dict[str, list[str]]] = {ex: {} for ex in exercises}
    for result in results:
        if result.status != GRADED:
            continue
        for ex in result.exercises:
            if ex.id not in per or ex.score >= ex.max_score:
                continue
            for key in dict.fromkeys(ex.messages):      # a key said twice holds a student once
                per[ex.id].setdefault(key, []).append(result.student)
    return {ex: sorted((Held(ex, key, tuple(students)) for key, students in keys.items()),
                       key=lambda h: (-h.count, h.key))
            for ex, keys in per.items()}


def top(by_exercise: dict[str, list[Held]]) -> Held | None:
    """The message that holds the most students, in any exercise (the first such one)."""
    found = [items[0] for items in by_exercise.values() if items]
    return max(found, key=lambda h: h.count) if found else None


def gist(catalog: Catalog, key: str, lang: str, limit: int = 180) -> str:
    """A message's first sentence in `lang`, each placeholder (one student's name, state or
    path) shown as '…'; the key itself when the catalog has no such message."""
    entry = catalog.entries.get(key)
    if entry is None:
        return key
    template = entry.get(lang) or entry.get("en", key)
    text = "".join(literal + ("…" if field is not None else "")
                   for literal, field, _, _ in string.Formatter().parse(template)).strip()
    sentence = _first_sentence(text)
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def _first_sentence(text: str) -> str:
    """Up to the first '.', '!' or '?' followed by a space, outside `code`."""
    in_code = False
    for i, char in enumerate(text):
        if char == "`":
            in_code = not in_code
        elif char in ".!?" and not in_code and i + 1 < len(text) and text[i + 1] == " ":
            return text[: i + 1]
    return text
