"""Bilingual notebooks: one source with paired `lang-en`/`lang-es` markdown cells, one copy per language.

A lab notebook is written once, in both languages (notebooks/README.md). Two things follow from
that single source and live here, so the test, the command and nbgrader's release agree on what a
pair is: `pairing_problems` says where a notebook breaks the pairing rule, and `single_language`
makes the copy a student reads: the cells of one language plus the shared (untagged) cells, with
the notebook's language setting switched to match (`lab notebook`, grader.notebook.release).
"""
from __future__ import annotations

import copy as copy_module
import re

import nbformat

from grader.errors import UsageError
from grader.core.i18n import LANGUAGES

TAGS = {f"lang-{lang}": lang for lang in LANGUAGES}
#: The first cell of a bilingual source: how to choose a language once (both languages in one
#: short cell). Only the bilingual notebook has it: every one-language copy drops it.
CHOICE = "lang-choice"

#: The language setting of the first code cell: `LANG = "en"` (notebooks/README.md).
LANG_SETTING = re.compile(r"""^(LANG\s*=\s*)(["'])(\w+)\2""", re.MULTILINE)

#: What nbgrader writes where a solution was removed, in the copy's language.
STUBS = {
    "en": ("# YOUR CODE HERE\nraise NotImplementedError()", "YOUR ANSWER HERE"),
    "es": ("# TU CÓDIGO AQUÍ\nraise NotImplementedError()", "ESCRIBE AQUÍ TU RESPUESTA"),
}


def cell_languages(cell) -> list[str]:
    """The languages a cell is tagged with (normally none or one)."""
    return [TAGS[t] for t in cell.get("metadata", {}).get("tags", []) if t in TAGS]


def pairing_problems(nb) -> list[str]:
    """Every markdown cell is `lang-en` followed right away by its `lang-es` partner; say where not."""
    problems = []
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown" or CHOICE in cell.get("metadata", {}).get("tags", []):
            continue
        langs = cell_languages(cell)
        where = f"cell {i} ({_first_line(cell)!r})"
        if not langs:
            problems.append(f"{where}: markdown cell without a lang-en/lang-es tag")
        elif len(langs) > 1:
            problems.append(f"{where}: tagged with more than one language {langs}")
        elif langs == ["en"]:
            partner = cells[i + 1] if i + 1 < len(cells) else None
            if partner is None or partner.cell_type != "markdown" or cell_languages(partner) != ["es"]:
                problems.append(f"{where}: lang-en cell not followed by its lang-es partner")
        elif langs == ["es"]:
            partner = cells[i - 1] if i > 0 else None
            if partner is None or partner.cell_type != "markdown" or cell_languages(partner) != ["en"]:
                problems.append(f"{where}: lang-es cell not preceded by its lang-en partner")
    return problems


def single_language(nb, lang: str, clear_solutions: bool = False):
    """A copy with the cells of `lang` and the untagged ones, the language setting set to `lang`.

    `clear_solutions` runs nbgrader's own student-version steps (solutions, hidden tests, outputs)
    for a copy made straight from the instructor's source notebook.
    """
    if lang not in LANGUAGES:
        raise UsageError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
    present = {code for c in nb.cells for code in cell_languages(c)}
    if present and lang not in present:
        raise UsageError(f"this notebook holds only {', '.join(sorted(present))} (an nbgrader release "
                         "is in the course's language): make the copy from the bilingual source "
                         f"with `lab notebook LAB --lang {lang}`")
    copy = nbformat.from_dict(nbformat.v4.new_notebook())
    copy.metadata = copy_module.deepcopy(nb.metadata)
    copy.cells = [copy_module.deepcopy(c) for c in nb.cells
                  if (not cell_languages(c) or cell_languages(c) == [lang])
                  and CHOICE not in c.get("metadata", {}).get("tags", [])]
    _set_language(copy, lang)
    if clear_solutions:
        copy = _student_version(copy, lang)
    return copy


def _set_language(nb, lang: str) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code" and LANG_SETTING.search(cell.source):
            cell.source = LANG_SETTING.sub(lambda m: f"{m[1]}{m[2]}{lang}{m[2]}", cell.source, count=1)
            return
    raise UsageError('the notebook has no language setting (a code cell with `LANG = "en"`): '
                     "see notebooks/README.md")


def _student_version(nb, lang: str):
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

    code_stub, text_stub = STUBS[lang]
    steps = [ClearSolutions(code_stub={"python": code_stub}, text_stub=text_stub),
             ClearHiddenTests(), ClearOutput()]
    resources = {}
    for step in steps:
        nb, resources = step.preprocess(nb, resources)
    return nb


def _first_line(cell) -> str:
    text = cell.source.strip().splitlines()
    return text[0][:60] if text else ""
