"""Text that came from a student's host, made safe to show: control characters become visible.

Names, paths, descriptions and libvirt's error messages are untrusted. An escape sequence in a
domain name must reach the instructor's terminal, a CSV cell or a feedback file as the letters
`\\x1b[2J`, never as a command to the terminal; bidirectional overrides (U+202E...) would make a
line read differently from what it holds. Markup (rich, Markdown, HTML, spreadsheets) is escaped
by each renderer; this module handles what is dangerous everywhere.
"""
from __future__ import annotations

import re
from hashlib import sha1

#: DEL, C1 controls, and Unicode's invisible format controls that reorder or hide text (bidi
#: embeddings/overrides/isolates, zero-width characters, BOM): a character-class body.
C1_AND_FORMAT = "\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
#: ... and C0 controls but tab and newline.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f" + C1_AND_FORMAT + "]")


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, limit: int | None = None) -> str:
    """`text` with every unsafe character written as an escape, cut to `limit` characters."""
    out = str(text)
    if not out.isprintable():          # the common case skips the regex (isprintable is C)
        out = _UNSAFE.sub(_visible, out)
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


def one_line(text: object, limit: int | None = None) -> str:
    """printable, with newlines and tabs folded too (a table cell, a log line)."""
    return printable(" ".join(str(text).split()), limit)


def file_name(student: str) -> str:
    """A file name for a student: their id when it is safe, else a cleaned id plus a short hash
    (two ids never share a file)."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,100}", student):
        return student
    cleaned = re.sub(r"[^A-Za-z0-9._@+-]", "_", student).strip("._")[:60] or "student"
    return f"{cleaned}-{sha1(student.encode()).hexdigest()[:8]}"
