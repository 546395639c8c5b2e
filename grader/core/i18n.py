"""Messages in English and Spanish from one source: a TOML catalog per lab (and one for the engine).

Each key holds both languages side by side, so a message cannot exist in one language only
without a test noticing (tests/test_i18n.py).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from grader.core.text import printable
from grader.errors import UsageError

#: A name or path from a host shown in feedback is cut to this many characters.
PARAM_LIMIT = 200

LANGUAGES = ("en", "es")


def default_language(env=None) -> str:
    """LAB_LANG, else the locale (es_* -> Spanish), else English."""
    env = os.environ if env is None else env
    for var in ("LAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            code = value.split("_")[0].split(".")[0].lower()
            return code if code in LANGUAGES else "en"
    return "en"


def check_language(lang: str | None, env=None) -> str:
    lang = (lang or default_language(env)).lower()
    if lang not in LANGUAGES:
        raise UsageError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
    return lang


@dataclass(frozen=True)
class Message:
    """A message to render later, in the reader's language: a catalog key and its parameters."""

    key: str
    params: tuple = ()

    @classmethod
    def of(cls, key: str, **params) -> "Message":
        return cls(key, tuple(sorted(params.items())))


@dataclass
class Catalog:
    entries: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, *paths: Path) -> "Catalog":
        entries: dict[str, dict[str, str]] = {}
        for path in paths:
            if path.exists():
                entries.update(tomllib.loads(path.read_text()))
        return cls(entries)

    def render(self, message: Message, lang: str) -> str:
        entry = self.entries.get(message.key)
        if entry is None:
            raise KeyError(f"no message {message.key!r} in the catalog")
        params = {k: printable(v, PARAM_LIMIT) if isinstance(v, str) else v for k, v in message.params}
        return entry.get(lang, entry["en"]).format(**params).strip()

    def text(self, key: str, lang: str, **params) -> str:
        """A user-interface string (a table header, a status word) in the reader's language."""
        return self.render(Message.of(key, **params), lang)

    def missing_translations(self) -> list[str]:
        return [f"{key}: {lang}" for key, entry in self.entries.items()
                for lang in LANGUAGES if not entry.get(lang, "").strip()]


ENGINE_CATALOG = Path(__file__).with_name("messages.toml")
