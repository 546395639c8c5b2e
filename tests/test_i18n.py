"""English and Spanish from one source: nothing a student reads may exist in one language only.

Covers every place text lives: the message catalogs (grader/core/messages.toml, labs/*/messages.toml),
lab titles and exercise texts (labs/*/lab.toml), the notebooks' markdown cells (paired lang-en /
lang-es cells), the course text (course/*.md pairs, and course.md / course.es.md rendered from
them), plus what a student sees: `grade --lang es` and `lab notebook --lang es`.
"""
from __future__ import annotations

import json
import re
import string
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader import ROOT
from grader.course import coursetext
from grader.course.bilingual import pairing_problems, single_language
from grader.cli.main import grade, lab as lab_command
from grader.core.i18n import LANGUAGES, Catalog

CATALOGS = [ROOT / "grader" / "core" / "messages.toml", *sorted((ROOT / "labs").glob("*/messages.toml"))]
LAB_TOMLS = sorted((ROOT / "labs").glob("*/lab.toml"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*/*.ipynb"))
BIN = Path(sys.executable).parent


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- message catalogs -------------------------------------------------------------------------

@pytest.mark.parametrize("path", CATALOGS, ids=_id)
def test_every_message_has_english_and_spanish(path):
    entries = tomllib.loads(path.read_text())
    assert entries, f"{_id(path)} holds no messages"
    problems = Catalog(entries).missing_translations()
    extra = [f"{key}: {lang}" for key, entry in entries.items() for lang in entry if lang not in LANGUAGES]
    assert not problems and not extra, f"{_id(path)}: missing {problems}, unknown languages {extra}"


@pytest.mark.parametrize("path", CATALOGS, ids=_id)
def test_both_languages_of_a_message_take_the_same_placeholders(path):
    """A {placeholder} in one language only would crash or silently vanish when rendered."""
    def fields(text):
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key, entry in tomllib.loads(path.read_text()).items():
        assert fields(entry.get("en", "")) == fields(entry.get("es", "")), f"{_id(path)} [{key}]"


def test_missing_translations_are_reported():
    catalog = Catalog({"ok": {"en": "a", "es": "b"}, "half": {"en": "a"}, "blank": {"en": "a", "es": " "}})
    assert sorted(catalog.missing_translations()) == ["blank: es", "half: es"]


# --- lab definitions --------------------------------------------------------------------------

@pytest.mark.parametrize("path", LAB_TOMLS, ids=_id)
def test_lab_titles_and_exercise_texts_are_in_both_languages(path):
    data = tomllib.loads(path.read_text())
    missing = [f"title: {lang}" for lang in LANGUAGES if not data["title"].get(lang, "").strip()]
    missing += [f"{ex['id']}: {lang}" for ex in data["exercises"] for lang in LANGUAGES
                if not ex.get(lang, "").strip()]
    assert not missing, f"{_id(path)}: {missing}"


# --- notebooks --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_markdown_cells_come_in_language_pairs(path):
    problems = pairing_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{_id(path)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_has_a_language_setting_that_the_spanish_copy_switches(path):
    copy = single_language(nbformat.read(path, as_version=4), "es")
    settings = [c.source for c in copy.cells if c.cell_type == "code" and re.search(r"^LANG\s*=", c.source, re.M)]
    assert settings and re.search(r"""^LANG\s*=\s*["']es["']""", settings[0], re.M)
    assert all("lang-en" not in c.metadata.get("tags", []) for c in copy.cells)


def _nb(*cells):
    return new_notebook(cells=list(cells))


EN = {"tags": ["lang-en"]}
ES = {"tags": ["lang-es"]}


@pytest.mark.parametrize("cells, problem", [
    ([new_markdown_cell("Hello", metadata=EN)], "not followed by its lang-es partner"),
    ([new_markdown_cell("Hola", metadata=ES)], "not preceded by its lang-en partner"),
    ([new_markdown_cell("Hola", metadata=ES), new_markdown_cell("Hello", metadata=EN)],
     "not preceded by its lang-en partner"),
    ([new_markdown_cell("Hello", metadata=EN), new_code_cell("x = 1"), new_markdown_cell("Hola", metadata=ES)],
     "not followed by its lang-es partner"),
    ([new_markdown_cell("Hello / Hola")], "without a lang-en/lang-es tag"),
    ([new_markdown_cell("Hi", metadata={"tags": ["lang-en", "lang-es"]})], "more than one language"),
])
def test_pairing_rule_catches_each_kind_of_unpaired_cell(cells, problem):
    problems = pairing_problems(_nb(*cells))
    assert any(problem in p for p in problems), problems


def test_pairing_rule_accepts_pairs_and_shared_code():
    nb = _nb(new_markdown_cell("Hello", metadata=EN), new_markdown_cell("Hola", metadata=ES),
             new_code_cell('LANG = "en"'), new_markdown_cell("Bye", metadata=EN),
             new_markdown_cell("Adiós", metadata=ES))
    assert pairing_problems(nb) == []


# --- lab notebook --lang ----------------------------------------------------------------------

def _bilingual():
    return _nb(new_markdown_cell("# Lab", metadata=EN), new_markdown_cell("# Laboratorio", metadata=ES),
               new_code_cell('LANG = "en"   # or "es"\nprint(LANG)'),
               new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                             metadata={"nbgrader": {"solution": True, "grade": False, "locked": False,
                                                    "grade_id": "f", "schema_version": 3}}))


@pytest.mark.parametrize("lang, kept, dropped", [("es", "# Laboratorio", "# Lab"), ("en", "# Lab", "# Laboratorio")])
def test_lab_notebook_writes_one_language_and_sets_the_language_cell(tmp_path, lang, kept, dropped):
    source = tmp_path / "in.ipynb"
    nbformat.write(_bilingual(), source)
    proc = subprocess.run([BIN / "lab", "notebook", "lab3", "--lang", lang, "--source", source,
                           "--out", tmp_path / "out"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "out" / "lab3.ipynb")
    copy = nbformat.read(tmp_path / "out" / "lab3.ipynb", as_version=4)
    sources = [c.source for c in copy.cells]
    assert kept in sources and dropped not in sources
    assert sources[1].startswith(f'LANG = "{lang}"')
    assert "return 1" in sources[2], "a --source copy (a student's) keeps what is in its cells"


def test_student_copy_from_the_instructors_notebook_has_no_solutions():
    copy = single_language(_bilingual(), "es", clear_solutions=True)
    code = "\n".join(c.source for c in copy.cells)
    assert "return 1" not in code and "TU CÓDIGO AQUÍ" in code and "NotImplementedError" in code


def test_lab_notebook_refuses_a_notebook_without_language_setting(tmp_path):
    source = tmp_path / "in.ipynb"
    nbformat.write(_nb(new_markdown_cell("# Lab", metadata=EN), new_markdown_cell("# Lab", metadata=ES)), source)
    result = CliRunner().invoke(lab_command, ["notebook", "lab3", "--lang", "es", "--source", str(source),
                                              "--out", str(tmp_path)])
    assert result.exit_code == 2 and "language setting" in result.output


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_lab_notebook_makes_a_spanish_student_copy_of_each_lab(tmp_path, path):
    lab = path.parent.name
    result = CliRunner().invoke(lab_command, ["notebook", lab, "--lang", "es", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    copy = nbformat.read(tmp_path / f"{lab}.ipynb", as_version=4)
    assert "### BEGIN SOLUTION" not in json.dumps([c.source for c in copy.cells])
    markdown = [c for c in copy.cells if c.cell_type == "markdown"]
    assert markdown and all(c.metadata.get("tags") == ["lang-es"] for c in markdown)


# --- grade --lang es ----------------------------------------------------------------------------

FIXTURES = sorted((ROOT / "labs").glob("*/fixtures/*.json"))


def _grade(fixture: Path, lang: str) -> dict:
    """`grade LAB --from-evidence F --lang L --format json`, in-process (click's runner) for speed."""
    lab = fixture.parent.parent.name
    result = CliRunner().invoke(grade, [lab, "--from-evidence", str(fixture), "--lang", lang, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_grade_command_itself_answers_in_spanish():
    """The installed `grade` script, as a student runs it: Spanish words, first feedback's opening."""
    fixture = FIXTURES[0]
    proc = subprocess.run([BIN / "grade", fixture.parent.parent.name, "--from-evidence", fixture,
                           "--lang", "es", "--format", "json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    english = _grade(fixture, "en")["results"][0]["exercises"][0]["feedback"]
    spanish = json.loads(proc.stdout)["results"][0]["exercises"][0]["feedback"]
    assert spanish == _grade(fixture, "es")["results"][0]["exercises"][0]["feedback"] != english


def _opening(text: str) -> str:
    """The words of a catalog text before its first {placeholder}: what any rendering starts with."""
    return text.split("{")[0].strip()


@pytest.mark.parametrize("fixture", FIXTURES, ids=_id)
def test_grade_lang_es_gives_spanish_feedback(fixture):
    lab = fixture.parent.parent.name
    catalog = Catalog.load(ROOT / "grader" / "core" / "messages.toml", ROOT / "labs" / lab / "messages.toml")
    spanish, english = _grade(fixture, "es"), _grade(fixture, "en")
    assert spanish["lang"] == "es"
    for es_ex, en_ex in zip(spanish["results"][0]["exercises"], english["results"][0]["exercises"]):
        assert es_ex["feedback"] != en_ex["feedback"], es_ex["id"]
        for key in es_ex["messages"]:
            assert _opening(catalog.entries[key]["es"]) in es_ex["feedback"], (es_ex["id"], key)


def test_there_is_at_least_one_lab_fixture_to_grade_in_spanish():
    assert FIXTURES


# --- the course text --------------------------------------------------------------------------

def test_course_sources_pair_every_paragraph_and_render_both_languages():
    for path in sorted(coursetext.SOURCES.glob("*.md")):
        coursetext.parse(path)  # raises on a paragraph in one language only
    english, spanish = coursetext.render("en"), coursetext.render("es")
    assert "## 4. Snapshots" in english and "## 4. Instantáneas" in spanish
    assert "## 4. Instantáneas" not in english and "## 4. Snapshots" not in spanish


def test_course_md_and_course_es_md_are_up_to_date():
    assert not coursetext.stale(), "course.md / course.es.md are out of date: run `lab course build`"


def test_course_covers_the_seed_topics_in_both_languages():
    topics = {"en": ["storage pool", "volume", "raw", "qcow2", "thin provisioning", "snapshot", "LVM",
                     "ZFS", "live migration", "cold migration", "iscsi", "glusterfs", "nfs",
                     "`disk`", "`logical`", "`zfs`", "`dir`", "nbgrader"],
              "es": ["grupo de almacenamiento", "volumen", "raw", "qcow2", "aprovisionamiento ligero",
                     "instantánea", "LVM", "ZFS", "migración en caliente", "migración en frío", "iscsi",
                     "glusterfs", "nfs", "`disk`", "`logical`", "`zfs`", "`dir`", "nbgrader"]}
    for lang, words in topics.items():
        text = coursetext.render(lang).lower()
        assert [w for w in words if w.lower() not in text] == [], lang


def test_course_exercise_lists_match_the_labs():
    for lab, exercises in coursetext.directives().items():
        toml = ROOT / "labs" / lab / "lab.toml"
        if not toml.is_file():
            continue  # the lab is being written; its ids are the curriculum's
        defined = {e["id"]: int(e["points"]) for e in tomllib.loads(toml.read_text())["exercises"]}
        for exercise, points in exercises.items():
            assert defined.get(exercise) == points, f"course/: {lab} {exercise} [{points}] vs lab.toml"
    practised = {e for exercises in coursetext.directives().values() for e in exercises}
    for toml in LAB_TOMLS:
        ids = {e["id"] for e in tomllib.loads(toml.read_text())["exercises"]}
        assert ids <= practised, f"{_id(toml)}: exercises the course never links to: {ids - practised}"


@pytest.mark.parametrize("source, problem", [
    (":::en\nHello\n", "without its Spanish partner"),
    (":::en\nHello\n:::es\n", "not closed"),
    (":::en\nHello\n:::es\n\n:::\n", "empty language"),
    ("Hello outside\n", "outside an :::en/:::es pair"),
    (":::es\nHola\n:::\n", "outside a pair"),
    ("```sh\nvirsh list\n", "fence is not closed"),
    ("```sh\nvirsh list   # English only\n```\n", "a code comment in one language only"),
    ("```python\nx = 1  # English ‖\n```\n", "a code comment"),
    ("@not-here a classroom host\n```sh\nvirsh list\n```\n", "@not-here's reason in one language only"),
])
def test_course_parser_rejects_text_in_one_language_only(tmp_path, source, problem):
    path = tmp_path / "x.md"
    path.write_text(source)
    with pytest.raises(coursetext.CourseError, match=problem):
        coursetext.parse(path)


def test_course_side_by_side_renders_two_columns(tmp_path):
    (tmp_path / "a.md").write_text(":::en\nHi\n:::es\nHola\n:::\n\n@side-by-side\n```sh\nvirsh list\n```\n"
                                   "```python\nconn.listAllDomains()\n```\n@end\n")
    html = coursetext.render("es", sources=tmp_path)
    assert "Hola" in html and "Hi" not in html
    assert re.search(r"<td>\s*```sh\nvirsh list\n```\s*</td><td>\s*```python", html)


# --- choosing the language once ----------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_a_bilingual_notebook_opens_with_how_to_read_it_in_one_language(path):
    """The first cell names the `lab notebook` command for each language and links to the copy
    it writes when run at the repository root (build/LANG/LAB/LAB.ipynb)."""
    from grader.course.bilingual import CHOICE

    lab = path.parent.name
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown" and CHOICE in first.metadata.get("tags", [])
    for lang in LANGUAGES:
        assert f"`lab notebook {lab} --lang {lang}`" in first.source
        [link] = re.findall(rf"\]\(([^)]*/{lang}/{lab}/{lab}\.ipynb)\)", first.source)
        assert (path.parent / link).resolve() == ROOT / "build" / lang / lab / f"{lab}.ipynb"


def test_lab_notebook_writes_its_copy_where_the_notebooks_link_to(tmp_path):
    env = _environment(tmp_path)
    result = CliRunner().invoke(lab_command, ["notebook", "lab3", "--lang", "es"], obj=env)
    assert result.exit_code == 0, env.stderr.getvalue()
    written = tmp_path / "build" / "es" / "lab3" / "lab3.ipynb"
    assert env.stdout.getvalue().strip() == str(written) and written.is_file()


def _environment(cwd: Path):
    import io

    from grader.cli.environment import Environment

    return Environment(env={}, cwd=cwd, stdout=io.StringIO(), stderr=io.StringIO())


def test_a_one_language_copy_cannot_be_turned_into_the_other_language(tmp_path):
    english_only = single_language(_bilingual(), "en")
    source = tmp_path / "release.ipynb"
    nbformat.write(english_only, source)
    result = CliRunner().invoke(lab_command, ["notebook", "lab3", "--lang", "es", "--source", str(source),
                                              "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "holds only en" in result.output and "`lab notebook LAB --lang es`" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("toml, env, expected", [
    (None, {}, "en"),
    (None, {"LAB_LANG": "es"}, "es"),
    ('lang = "es"\n', {}, "es"),
    ('lang = "en"\n', {"LAB_LANG": "es"}, "en"),
    ('roster = "r.csv"\n', {"LAB_LANG": "es"}, "es"),
    (None, {"LANG": "es_ES.UTF-8"}, "en"),
])
def test_the_release_language_is_the_courses(tmp_path, toml, env, expected):
    """course.toml's lang, else $LAB_LANG, else English (never the instructor's locale)."""
    from grader.notebook.release import course_language

    if toml:
        (tmp_path / "course.toml").write_text(toml)
    assert course_language(tmp_path, env) == expected


def test_course_code_comments_and_not_here_notes_render_in_each_language(tmp_path):
    (tmp_path / "a.md").write_text(
        ":::en\nHi\n:::es\nHola\n:::\n\n@not-here a classroom host ‖ un host del aula\n"
        "```sh\nvirsh list   # list the domains ‖ lista los dominios\necho '#not a comment'\n```\n")
    english, spanish = coursetext.render("en", sources=tmp_path), coursetext.render("es", sources=tmp_path)
    assert "virsh list   # list the domains\n" in english and "lista los dominios" not in english
    assert "virsh list   # lista los dominios\n" in spanish and "list the domains" not in spanish
    assert "<!-- not run here: a classroom host -->\n```sh" in english
    assert "<!-- not run here: un host del aula -->\n```sh" in spanish
    assert "echo '#not a comment'" in english
