"""What a notebook's exercise cells call: "check my work" and the student's predictions.

* `check_my_work(lab, exercise)`: grade one exercise now, on the student's own host, with the
  same checks as `grade`, through the same bounded, read-only reading (grader.grading), on the
  hosts the environment names (grader.core.uris: $LAB_URI_<ROLE>, for role A also
  $LIBVIRT_DEFAULT_URI), printed in the student's language.
* `predict(key, text)` / `predicted(key)`: the student writes down what a measurement will show
  before running it; the measurement cell prints it back beside the result. Not graded: it
  stays in the student's notebook (and in an nbgrader submission).
"""
from __future__ import annotations

import os

from grader.core import labdef, sharemarker
from grader.core.results import GRADED, ExerciseResult
from grader.core.uris import parse_hosts
from grader.notebook import autograde
from grader.notebook.language import language, text

_predictions: dict[str, str] = {}


def check_my_work(lab_id: str, exercise: str, hosts: dict[str, str] | None = None,
                  quiet: bool = False) -> ExerciseResult | None:
    """Grade one exercise now, print 'id: score/max — feedback', and return the result."""
    from grader import grading
    from grader.reading.student import Target

    lang = language()
    if autograde.under_autograde():
        print(text("ui-check-skipped", lab=lab_id))
        return None
    lab = labdef.for_environment(os.environ).load(lab_id)
    lab.exercise(exercise)
    uris = hosts or parse_hosts((), lab.roles, os.environ)
    result, _ = grading.grade_one(lab, Target("me", uris), lang=lang, only=[exercise],
                                  expected=sharemarker.expected_facts(os.environ))
    if result.status != GRADED:
        print(lab.catalog.text("ui-check-not-graded", lang, exercise=exercise, error=result.error))
        return None
    ex = result.exercises[0]
    if not quiet:
        mark = "✔" if ex.score == ex.max_score else ("◐" if ex.score else "✘")
        print(f"{mark} {ex.id}: {ex.score}/{ex.max_score} — {ex.feedback}")
    return ex


def predict(key: str, prediction: str) -> None:
    """Note the student's prediction for the measurement `key` (not graded); say so."""
    prediction = " ".join(prediction.split())
    if prediction:
        _predictions[key] = prediction
        print(text("ui-predict-recorded", text=prediction))
    else:
        _predictions.pop(key, None)
        print(text("ui-predict-empty"))


def predicted(key: str) -> str | None:
    """Print the prediction made for `key` above a measurement's result (and return it)."""
    prediction = _predictions.get(key)
    print(text("ui-predicted", text=prediction) if prediction else text("ui-predicted-none"))
    return prediction
