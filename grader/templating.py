"""The one Jinja environment: libvirt XML (provisioning) and the HTML reports, from templates/.

Autoescaping is on for every template, XML included: a name that reaches a template is text,
never markup. StrictUndefined turns a missing parameter into an error instead of an empty string.
"""
from __future__ import annotations

import re
from functools import cache
from html import escape

import jinja2
from markupsafe import Markup

from grader import files
from grader.core.text import printable


def inline_code(text: str) -> Markup:
    """Escaped, printable text whose `backticked` words (commands, names) show as code, as in
    the notebooks."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(printable(text)))))


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(files.folder("templates")), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, finalize=_printable)
    env.filters["code"] = inline_code
    return env


def _printable(value):
    """Every value a template prints is made printable first (autoescape then escapes markup)."""
    return printable(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def render(template: str, **params) -> str:
    return environment().get_template(template).render(**params)
