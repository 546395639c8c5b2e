"""`grade --format json` and results.json: the documented shape, one result per student.

JSON escapes C0 control characters itself; the other characters that could steer a terminal or
reorder a line (C1 controls, bidi overrides) are written as \\u escapes too, which any JSON
reader decodes back to the same text.
"""
import json
import re

from grader.core.text import C1_AND_FORMAT
from grader.render import Renderer, Report

_UNSAFE = re.compile(f"[{C1_AND_FORMAT}]")


def dumps(data) -> str:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render(report: Report) -> str:
    return dumps(report.run.to_dict())


RENDERER = Renderer("json", render, archive="results.json")
