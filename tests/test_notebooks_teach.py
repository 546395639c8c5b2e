"""The notebooks teach by experiment: a prediction before each measurement, knowledge exercises
graded by nbgrader in every lab, and host cells marked so autograde can skip them."""
from __future__ import annotations

import re

import nbformat
import pytest

from grader import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("lab*/lab*.ipynb"))


def _code(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_every_measurement_prints_a_prediction_asked_for_in_an_earlier_cell(path):
    cells = _code(path)
    asked: set[str] = set()
    shown = []
    for source in cells:
        shown += [k for k in re.findall(r'predicted\("([^"]+)"\)', source) if k not in asked]
        asked |= set(re.findall(r'^predict\("([^"]+)"', source, re.M))
    assert asked, f"{path.parent.name} asks for no prediction"
    assert shown == [], f"{path.parent.name}: measured before the prediction was asked: {shown}"
    assert all(re.search(rf'predicted\("{k}"\)', "\n".join(cells)) for k in asked)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_every_lab_has_a_knowledge_exercise_graded_by_nbgrader(path):
    nb = nbformat.read(path, as_version=4)
    graded = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert graded and all(c.metadata["nbgrader"]["points"] > 0 for c in graded)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_cells_that_reach_a_host_are_marked_host(path):
    """A cell that opens libvirt or runs a host tool starts with %%host (grader.notebook.autograde)."""
    reaching = re.compile(r"libvirt\.open|\b(conn|a|b|vm|raw|pool|lab1_dir)\.\w+\(|subprocess|\brun\(\"qemu")
    for source in _code(path):
        body = "\n".join(line for line in source.splitlines() if not line.startswith(("import ", "from ")))
        if reaching.search(body) and not source.startswith("%%host"):
            assert "check_my_work(" in source or source.startswith("def "), source[:120]


def test_lab3_shows_recovery_a_refusal_and_what_snapshots_cost():
    text = "\n".join(_code(ROOT / "notebooks" / "lab3" / "lab3.ipynb"))
    assert "qemu-io" in text and "revertToSnapshot" in text       # write, revert, read back
    assert 'snapshotCreateXML(snapshot_xml("try"), 0)' in text     # the refused internal snapshot
    assert '"qemu-img", "info", "-U"' in text                      # what each snapshot costs


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_every_measurement_is_explained_right_after_it(path):
    """Predict, measure, explain: the cells after each measurement that prints a prediction back
    are the explanation that closes it, in English and then in Spanish, not the next part (a
    heading: an exercise, a knowledge check, another measurement)."""
    cells = nbformat.read(path, as_version=4).cells
    measured = [i for i, c in enumerate(cells) if c.cell_type == "code" and "predicted(" in c.source]
    assert measured, f"{path.parent.name} measures nothing"
    for i in measured:
        after = cells[i + 1:i + 3]
        assert [c.metadata.get("tags", []) for c in after if c.cell_type == "markdown"] == [["lang-en"], ["lang-es"]] \
            and not any(c.source.lstrip().startswith("#") for c in after), \
            f"{path.parent.name} cell {i}: a measurement without its explanation right after it"
