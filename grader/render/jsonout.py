"""`grade --format json`: the documented shape, one result per student."""
import json

from grader.results import LabRun


def render(run: LabRun) -> str:
    return json.dumps(run.to_dict(), indent=2, ensure_ascii=False)
