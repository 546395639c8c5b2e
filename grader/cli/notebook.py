"""`lab notebook LAB --lang es`: the single-language copy of a lab's bilingual notebook.

Notebooks are written once with both languages (grader.course.bilingual); a student who wants to read
only one gets this copy. Without --source it starts from the instructor's notebook
(notebooks/LAB/LAB.ipynb) and removes the solutions with nbgrader's own steps; with --source it
converts a notebook already made for students (nbgrader's release/LAB/LAB.ipynb, or the copy a
student fetched) and keeps everything else as it is, so nbgrader can still autograde it.
"""
from __future__ import annotations

from pathlib import Path

import click

from grader import files
from grader.cli.environment import current
from grader.cli.exits import handles_errors
from grader.core import labdef
from grader.core.i18n import LANGUAGES, check_language
from grader.errors import UsageError


@click.command("notebook")
@click.argument("lab_id", metavar="LAB")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None,
              help="Language of the copy (default: $LAB_LANG or the locale).")
@click.option("--source", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A student version to convert (e.g. release/LAB/LAB.ipynb); default: the "
                   "instructor's notebook, with its solutions removed.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for LAB.ipynb (default: build/LANG/LAB).")
@handles_errors
def notebook(lab_id, lang, source, out_dir):
    """Write the student copy of LAB's notebook in one language."""
    import nbformat  # imported here: it costs ~1 s, which every `grade` would pay at start-up

    from grader.course.bilingual import single_language

    env = current()
    lang = check_language(lang, env.env)
    if source is None:
        source = files.folder("notebooks") / lab_id / f"{lab_id}.ipynb"
        if not source.is_file():
            known = ", ".join(p.parent.name for p in sorted(files.folder("notebooks").glob("*/*.ipynb")))
            raise UsageError(f"no notebook for {lab_id!r} at {source}: use one of {known or '(none yet)'}")
        labdef.for_environment(env.env).load(lab_id)  # an unknown lab id fails with the list of labs
    instructors = files.folder("notebooks")
    nb = nbformat.read(source, as_version=4)
    copy = single_language(nb, lang, clear_solutions=source.resolve().is_relative_to(instructors))
    out_dir = out_dir or env.cwd / "build" / lang / lab_id
    target = out_dir / f"{lab_id}.ipynb"
    if target.resolve().is_relative_to(instructors):
        raise UsageError(f"{target} is inside notebooks/, the bilingual source: give another --out folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(copy, target)
    env.out(str(target))
