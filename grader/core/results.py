"""Results: what a student scored, per exercise, with feedback already in the reader's language.

These are the shapes every renderer reads (table, JSON, CSV, HTML); `to_dict` is the JSON
contract of `grade --format json`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

GRADED, UNREACHABLE, ERROR = "graded", "unreachable", "error"


@dataclass
class ExerciseResult:
    id: str
    score: float
    max_score: int
    feedback: str
    messages: list[str] = field(default_factory=list)   # catalog keys, for tests and reports

    def to_dict(self) -> dict:
        return {"id": self.id, "score": self.score, "max_score": self.max_score,
                "feedback": self.feedback, "messages": list(self.messages)}


@dataclass
class StudentResult:
    student: str
    hosts: dict[str, str]
    status: str
    error: str | None
    score: float | None
    max_score: int
    exercises: list[ExerciseResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Every field, in order: what dataclasses.asdict gives, written out, since asdict's
        recursion and deep copies made it the slowest step of writing a class's results."""
        return {"student": self.student, "hosts": dict(self.hosts), "status": self.status,
                "error": self.error, "score": self.score, "max_score": self.max_score,
                "exercises": [e.to_dict() for e in self.exercises]}

    @classmethod
    def from_dict(cls, data: dict) -> "StudentResult":
        exercises = [ExerciseResult(**e) for e in data.get("exercises", [])]
        return cls(**{**data, "exercises": exercises})


@dataclass
class LabRun:
    lab: str
    max_score: int
    lang: str
    results: list[StudentResult]
    #: students whose hosts share an identity (grader.core.copies), for the instructor only
    copies: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"lab": self.lab, "max_score": self.max_score, "lang": self.lang,
                "results": [r.to_dict() for r in self.results], "copies": self.copies}

    @property
    def all_graded(self) -> bool:
        return all(r.status == GRADED for r in self.results)


def number(value: float) -> float | int:
    """Scores print as 2, not 2.0; halves stay 1.5."""
    value = round(value, 2)
    return int(value) if value == int(value) else value
