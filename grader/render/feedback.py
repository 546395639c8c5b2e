"""One feedback file per student: their own scores and feedback, nothing about anyone else.

The file is meant to be handed to the student as it is (mail, LMS upload), so it holds only
their name, their hosts and their result: no class statistics, no other student's name. It is
Markdown: text from the host is escaped so that it cannot become a link, an image or a tag.
"""
from __future__ import annotations

import re

from grader.core.results import GRADED, StudentResult, number
from grader.core.text import file_name, one_line
from grader.render import Renderer, Report

_MARKDOWN = re.compile(r"([\\\[\]<>|!])")


def md(text) -> str:
    """One printable line in which Markdown sees no link, image, tag or table border."""
    return _MARKDOWN.sub(r"\\\1", one_line(text))


def student(report: Report, result: StudentResult) -> str:
    lab, t = report.lab, report.t
    lang = report.run.lang
    lines = [f"# {lab.id} — {lab.title.get(lang, lab.id)}: {md(result.student)}", ""]
    lines.append(f"{t('ui-hosts')}: " + ", ".join(f"{role}={md(uri)}" for role, uri in result.hosts.items()))
    lines.append("")
    if result.status != GRADED:
        lines += [f"**{t('ui-feedback-not-graded')}** ({t('ui-status-' + result.status)}): {md(result.error or '')}",
                  "", t("ui-feedback-again"), ""]
        return "\n".join(lines)
    lines += [f"**{t('ui-score')}: {number(result.score)} / {result.max_score}**", ""]
    lines += [f"| {t('ui-exercise')} | {t('ui-points')} | {t('ui-feedback')} |", "| --- | ---: | --- |"]
    for ex in result.exercises:
        lines.append(f"| {md(ex.id)} | {number(ex.score)} / {ex.max_score} | {md(ex.feedback)} |")
    lines.append("")
    return "\n".join(lines)


def render(report: Report) -> str:
    """All students' files one after the other (what --format would print; not offered)."""
    return "\n".join(student(report, r) for r in report.run.results)


def student_file(report: Report, result: StudentResult) -> tuple[str, str]:
    """Their file in a run directory: written as soon as they are graded, since it reads nothing
    of the run but its language."""
    return f"feedback/{file_name(result.student)}.md", student(report, result)


RENDERER = Renderer("feedback", render, student=student_file)
