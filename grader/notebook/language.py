"""The language a notebook prints in: set once by its first code cell (`LANG = "es"`)."""
from __future__ import annotations

import os

from grader.core.i18n import ENGINE_CATALOG, Catalog, check_language

_language: str | None = None


def set_language(lang: str) -> str:
    """The notebook's language setting: 'en' or 'es' for every message printed after it."""
    global _language
    _language = check_language(lang)
    os.environ["LAB_LANG"] = _language
    return _language


def language() -> str:
    return _language or check_language(None)


def text(key: str, **params) -> str:
    """One of the engine's interface strings (grader/core/messages.toml), in the notebook's language."""
    return Catalog.load(ENGINE_CATALOG).text(key, language(), **params)
