"""The HTML class report: one self-contained file that opens from disk in any browser.

Everything is inline (styles, and the score histogram as a base64 PNG drawn by matplotlib), so
the file can be mailed or archived alone. Autoescaping is on: feedback and student names are
text, never markup.
"""
from __future__ import annotations

import base64
import io

import jinja2

from grader import ROOT
from grader.labdef import Lab
from grader.results import GRADED, LabRun, number

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)

TEXT = {
    "en": {"title": "Class report", "graded": "graded", "unreachable": "not graded", "mean": "mean",
           "pass_rate": "Pass rate per exercise", "exercise": "Exercise", "points": "Points",
           "full": "full marks", "some": "partial", "histogram": "Scores", "students": "Students",
           "student": "Student", "total": "Total", "status": "Status", "feedback": "Feedback",
           "hosts": "Hosts", "students_axis": "students", "score_axis": "score"},
    "es": {"title": "Informe de la clase", "graded": "calificados", "unreachable": "sin calificar",
           "mean": "media", "pass_rate": "Aprobados por ejercicio", "exercise": "Ejercicio",
           "points": "Puntos", "full": "nota completa", "some": "parcial", "histogram": "Notas",
           "students": "Estudiantes", "student": "Estudiante", "total": "Total", "status": "Estado",
           "feedback": "Comentarios", "hosts": "Hosts", "students_axis": "estudiantes",
           "score_axis": "nota"},
}


def pass_rates(run: LabRun, lab: Lab) -> list[dict]:
    """Per exercise, among graded students: the share with full marks and with some marks."""
    graded = [r for r in run.results if r.status == GRADED]
    rows = []
    for ex in lab.exercises:
        scores = [e.score for r in graded for e in r.exercises if e.id == ex.id]
        n = len(scores) or 1
        rows.append({"id": ex.id, "points": ex.points, "text": ex.text.get(run.lang, ""),
                     "full": sum(s == ex.points for s in scores) / n,
                     "some": sum(0 < s < ex.points for s in scores) / n, "count": len(scores)})
    return rows


def histogram_png(scores: list[float], max_score: int, labels: dict) -> str:
    """A histogram of total scores as a base64 PNG (the Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 2.6), dpi=100)
    ax = fig.add_subplot()
    bins = [b - 0.5 for b in range(0, max_score + 2)]
    ax.hist(scores, bins=bins, color="#3b7dd8", edgecolor="white")
    ax.set_xticks(range(0, max_score + 1))
    ax.set_xlabel(labels["score_axis"])
    ax.set_ylabel(labels["students_axis"])
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def render(run: LabRun, lab: Lab) -> str:
    labels = TEXT[run.lang]
    graded = [r for r in run.results if r.status == GRADED]
    mean = number(sum(r.score for r in graded) / len(graded)) if graded else None
    return _env.get_template("report.html.j2").render(
        run=run, lab=lab, t=labels, lang=run.lang, title=lab.title.get(run.lang, lab.id),
        graded=len(graded), not_graded=len(run.results) - len(graded), mean=mean,
        rates=pass_rates(run, lab), number=number,
        histogram=histogram_png([r.score for r in graded], lab.max_score, labels) if graded else None)


def render_run_dir(path) -> None:
    """Render report.html of a run directory from its results.json (what a class run does)."""
    import json
    from pathlib import Path

    from grader import labdef
    from grader.archive import atomic_write
    from grader.results import StudentResult

    folder = Path(path)
    data = json.loads((folder / "results.json").read_text())
    lab = labdef.load(data["lab"])
    run = LabRun(lab=data["lab"], max_score=data["max_score"], lang=data.get("lang", "en"),
                 results=[StudentResult.from_dict(r) for r in data["results"]])
    atomic_write(folder / "report.html", render(run, lab))


class Prepared:
    """A child process that imports matplotlib and jinja2 while the class is being graded.

    Importing matplotlib costs ~0.6 s of CPU; hosts being read leave the CPU idle, so the
    child does it meanwhile and then only draws when `finish` says results.json is written.
    """

    def __init__(self, run_dir):
        import subprocess
        import sys

        self.proc = subprocess.Popen([sys.executable, "-m", "grader.render.html", str(run_dir)],
                                     stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def finish(self, timeout: float = 60) -> str | None:
        """Let it render; None when report.html is written, else the child's complaint."""
        try:
            _, err = self.proc.communicate(b"go\n", timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - a report problem must not lose the grades
            self.proc.kill()
            return f"report.html not written: {exc}"
        if self.proc.returncode != 0:
            lines = err.decode(errors="replace").strip().splitlines()
            return f"report.html not written: {lines[-1] if lines else self.proc.returncode}"
        return None

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _prewarm() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure  # noqa: F401 - the slow import, done before the results arrive

    _env.get_template("report.html.j2")


if __name__ == "__main__":
    import sys

    _prewarm()
    if sys.stdin.readline().strip() == "go":
        render_run_dir(sys.argv[1])
