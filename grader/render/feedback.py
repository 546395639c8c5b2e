"""One feedback file per student: their own scores and feedback, nothing about anyone else.

The file is meant to be handed to the student as it is (mail, LMS upload), so it holds only
their name, their hosts and their result: no class statistics, no other student's name.
"""
from __future__ import annotations

from grader.labdef import Lab
from grader.results import GRADED, StudentResult, number

WORDS = {
    "en": {"score": "Score", "exercise": "Exercise", "points": "Points", "feedback": "Feedback",
           "hosts": "Hosts", "not_graded": "Not graded", "again": "Ask your instructor to grade again "
           "once the host is reachable."},
    "es": {"score": "Nota", "exercise": "Ejercicio", "points": "Puntos", "feedback": "Comentarios",
           "hosts": "Hosts", "not_graded": "Sin calificar", "again": "Pide a tu profesor que vuelva "
           "a calificar cuando el host esté accesible."},
}


def render(result: StudentResult, lab: Lab, lang: str) -> str:
    w = WORDS[lang]
    lines = [f"# {lab.id} — {lab.title.get(lang, lab.id)}: {result.student}", ""]
    lines.append(f"{w['hosts']}: " + ", ".join(f"{role}={uri}" for role, uri in result.hosts.items()))
    lines.append("")
    if result.status != GRADED:
        lines += [f"**{w['not_graded']}** ({result.status}): {result.error}", "", w["again"], ""]
        return "\n".join(lines)
    lines += [f"**{w['score']}: {number(result.score)} / {result.max_score}**", ""]
    lines += [f"| {w['exercise']} | {w['points']} | {w['feedback']} |", "| --- | ---: | --- |"]
    for ex in result.exercises:
        feedback = ex.feedback.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {ex.id} | {number(ex.score)} / {ex.max_score} | {feedback} |")
    lines.append("")
    return "\n".join(lines)
