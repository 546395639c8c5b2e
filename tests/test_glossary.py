"""Spanish follows one glossary (course/glossary.toml): the course's paragraphs, the Spanish comments
in its code, and the notebooks' Spanish cells say "grupo de almacenamiento", "capa", "imagen base",
"sobreasignación", "exportación NFS"... and not the terms the glossary lists to avoid."""
from __future__ import annotations

import re

import nbformat
import pytest

from grader import ROOT
from grader.course import coursetext, glossary

TERMS = glossary.load()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*/*.ipynb"))


def test_the_glossary_has_the_course_terms():
    spanish = {t.en: t.es for t in TERMS}
    assert spanish["storage pool"] == "grupo de almacenamiento"
    assert spanish["overcommitment"] == "sobreasignación"
    assert spanish["overlay"] == "capa" and spanish["backing file"] == "imagen base"
    assert spanish["NFS export"] == "exportación NFS"
    backing_store = next(t for t in TERMS if t.en.startswith("backing store"))
    assert backing_store.es == "volumen base" and "almacenamiento base" in backing_store.avoid
    assert spanish["thin pool (LVM)"] == "grupo ligero de LVM"


@pytest.mark.parametrize("text, found", [
    ("Un pool de tipo dir", ["'pool' (say: grupo de almacenamiento) at line 1"]),
    ("el grupo (*storage pool*) y `virsh pool-list`", []),
    ("un zpool de ZFS", []),
    ("la capa y su\nfichero de respaldo", ["'fichero de respaldo' (say: imagen base) at line 2"]),
    ("```sh\nvirsh pool-start x\n```", []),
    # a term split by the line break of a wrapped paragraph is still the term, found where it starts
    ("el **fichero\nbase** de la capa", ["'fichero base' (say: imagen base) at line 1"]),
    ("uno\ndos la capa y su fichero de\n   respaldo", ["'fichero de respaldo' (say: imagen base) at line 2"]),
    ("lee el\nimagen base", ["'el imagen base' (say: imagen base) at line 1"]),
    # a gloss may wrap too, and a label quoted from virt-manager's interface is its word
    ("una capa (*backing\nfile*) aquí", []),
    ("en «Almacenamiento de\nrespaldo», la ruta", []),
    ("el almacenamiento de respaldo", ["'almacenamiento de respaldo' (say: imagen base) at line 1"]),
])
def test_misuses_are_found_in_running_text_only(text, found):
    assert glossary.misuses(text, TERMS) == found


@pytest.mark.parametrize("path", sorted(coursetext.SOURCES.glob("*.md")), ids=lambda p: p.name)
def test_the_spanish_course_follows_the_glossary(path):
    problems = [f"{block.where}: {m}" for block in coursetext.parse(path) if block.lang == "es"
                for m in glossary.misuses("\n".join(block.lines), TERMS)]
    assert not problems, "\n".join(problems)


def test_the_spanish_comments_in_the_course_code_follow_the_glossary():
    spanish = coursetext.render("es")
    comments = "\n".join(m.group(1) for fence in re.findall(r"```(?:sh|python)\n(.*?)```", spanish, re.S)
                         for m in re.finditer(r"(?:^|\s)#\s(.*)$", fence, re.M))
    assert comments, "the Spanish course has no code comments to check"
    assert not glossary.misuses(comments, TERMS)
    english = coursetext.render("en")
    assert "crea el directorio" in spanish and "crea el directorio" not in english


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_the_notebooks_spanish_cells_follow_the_glossary(path):
    nb = nbformat.read(path, as_version=4)
    problems = [f"cell {i}: {m}" for i, cell in enumerate(nb.cells)
                if "lang-es" in cell.metadata.get("tags", []) for m in glossary.misuses(cell.source, TERMS)]
    assert not problems, "\n".join(problems)


def test_the_course_renders_the_glossary_in_each_language():
    assert "| grupo de almacenamiento | storage pool |" in coursetext.render("es")
    assert "| storage pool | grupo de almacenamiento |" in coursetext.render("en")


def _lab_spanish(lab) -> list[tuple[str, str]]:
    """(where, Spanish text) of a lab: its title, exercises and feedback messages."""
    import tomllib

    definition = tomllib.loads((lab.folder / "lab.toml").read_text())
    texts = [("title", definition["title"]["es"])]
    texts += [(f"exercise {e['id']}", e["es"]) for e in definition["exercises"]]
    texts += [(f"message {key}", entry["es"]) for key, entry in
              tomllib.loads((lab.folder / "messages.toml").read_text()).items()]
    return [(where, re.sub(r"\{\w+\}", "X", text)) for where, text in texts]  # {placeholders} are names


@pytest.mark.parametrize("lab_id", __import__("grader.core.labdef", fromlist=["x"]).available())
def test_the_labs_spanish_feedback_follows_the_glossary(lab_id):
    from grader.core import labdef

    problems = [f"{where}: {m}" for where, text in _lab_spanish(labdef.load(lab_id))
                for m in glossary.misuses(text, TERMS)]
    assert not problems, "\n".join(problems)


def test_the_engines_spanish_messages_follow_the_glossary():
    import tomllib

    from grader.core.i18n import ENGINE_CATALOG

    problems = [f"{key}: {m}" for key, entry in tomllib.loads(ENGINE_CATALOG.read_text()).items()
                for m in glossary.misuses(re.sub(r"\{\w+\}", "X", entry["es"]), TERMS)]
    assert not problems, "\n".join(problems)
