"""Notebooks are committed without outputs or execution counts (they hold a student's host state)."""
from __future__ import annotations

import json

import nbformat
import pytest

from grader import ROOT

NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cell_has_its_own_stable_id(path):
    """nbformat 4.5 requires cell ids; a cell without one gets a random id each time a tool
    reads it (a noisy diff, and a future nbformat refuses the file). Read the raw JSON:
    nbformat.read fills missing ids in silently."""
    cells = json.loads(path.read_text())["cells"]
    missing = [i for i, cell in enumerate(cells) if not cell.get("id")]
    assert not missing, f"{path.name}: cells {missing} have no id"
    ids = [cell["id"] for cell in cells]
    assert len(set(ids)) == len(ids), f"{path.name}: repeated cell ids"
