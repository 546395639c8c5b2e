"""nbgrader's release in the course's language: one language per student, from the bilingual source.

The source notebooks hold both languages (notebooks/README.md); a student reads one. nbgrader's
`generate_assignment` runs a list of preprocessors over each source notebook; `OneLanguage`
goes first and keeps the cells of the course's language (grader.course.bilingual), sets the
notebook's `LANG` cell to it, and the solution stubs are written in it too. Everything nbgrader
does next (locking, checksums, the gradebook's copy of the graded cells) sees that one-language
notebook, so autograde and feedback work on either language.

The course's language: `lang` in course.toml (grader.classroom.courseconf), else $LAB_LANG, else
English; `--OneLanguage.lang=es` on nbgrader's command line overrides both. nbgrader_config.py
calls `configure`.
"""
from __future__ import annotations

import os
from pathlib import Path

from nbgrader.converters.generate_assignment import GenerateAssignment
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from grader.classroom import courseconf
from grader.core.i18n import check_language
from grader.course.bilingual import STUBS, single_language


def course_language(course_dir: Path, env=None) -> str:
    """course.toml's `lang`, else $LAB_LANG, else English (never the locale: a release is for a class)."""
    env = os.environ if env is None else env
    course = courseconf.current(Path(course_dir))
    return check_language((course.lang if course else None) or env.get("LAB_LANG") or "en")


class OneLanguage(NbGraderPreprocessor):
    """Keep one language's cells and set the notebook's LANG cell to it."""

    lang = Unicode("en", help="Language of the student version: en or es.").tag(config=True)

    def preprocess(self, nb, resources):
        return single_language(nb, check_language(self.lang)), resources


def configure(c, course_dir: Path, env=None) -> str:
    """nbgrader_config.py's part: release in the course's language, with stubs in it; return it."""
    lang = course_language(course_dir, env)
    code_stub, text_stub = STUBS[lang]
    c.OneLanguage.lang = lang
    c.ClearSolutions.code_stub = {"python": code_stub}
    c.ClearSolutions.text_stub = text_stub
    defaults = GenerateAssignment.class_traits()["preprocessors"].make_dynamic_default()
    c.GenerateAssignment.preprocessors = [OneLanguage, *defaults]
    return lang
