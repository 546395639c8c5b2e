"""lab3's checks on captured evidence edited offline: what the images show when lab3's pool or
lab3-vm.qcow2 cannot be read, and that snapshot XML alone never earns the points."""
from __future__ import annotations

import json

import pytest

from grader.core import labdef
from grader.core.evidence import Evidence
from grader.core.scoring import score

LAB = labdef.load("lab3")
SOLVED = json.loads((LAB.folder / "fixtures" / "solved.json").read_text())
IMAGE_EXERCISES = ("snap-offline", "snap-live", "snap-revert")


def graded(data: dict, lang: str = "en") -> dict:
    return {e.id: e for e in score(LAB, Evidence.from_dict(data), lang).exercises}


def solved() -> dict:
    data = json.loads(json.dumps(SOLVED))
    data.pop("expect")
    return data


def test_the_solved_state_earns_full_marks():
    assert all(e.score == e.max_score for e in graded(solved()).values())


@pytest.mark.parametrize("lang,words", [("en", "virsh pool-start lab3"), ("es", "virsh pool-start lab3")])
def test_a_stopped_pool_hides_the_images_and_says_how_to_start_it(lang, words):
    data = solved()
    pool = data["hosts"]["A"]["pools"]["lab3"]
    pool["active"], pool["volumes"] = False, {}
    got = graded(data, lang)
    for exercise in IMAGE_EXERCISES:
        assert (got[exercise].score, got[exercise].messages) == (0, ["pool-not-active"])
        assert words in got[exercise].feedback


def test_a_pool_without_lab3_vm_qcow2_says_lab_start_prepares_it_again():
    data = solved()
    del data["hosts"]["A"]["pools"]["lab3"]["volumes"]["lab3-vm.qcow2"]
    got = graded(data)
    for exercise in IMAGE_EXERCISES:
        assert (got[exercise].score, got[exercise].messages) == (0, ["image-missing"])
        assert "lab start lab3" in got[exercise].feedback
    assert graded(data, "es")["snap-live"].feedback.startswith("El grupo de almacenamiento lab3 no tiene")


def test_the_snapshot_tree_alone_is_not_enough_whatever_its_xml_says():
    """The solved tree's XML on the image `lab start` made (192 KiB): nothing is in the image."""
    data = solved()
    vol = data["hosts"]["A"]["pools"]["lab3"]["volumes"]["lab3-vm.qcow2"]
    fresh = json.loads((LAB.folder / "fixtures" / "started.json").read_text())
    vol["xml"] = fresh["hosts"]["A"]["pools"]["lab3"]["volumes"]["lab3-vm.qcow2"]["xml"]
    got = graded(data)
    assert [got[e].messages for e in IMAGE_EXERCISES] == [
        ["clean-not-in-image"], ["live-memory-not-in-image"], ["tree-not-in-image"]]
    assert all("redefine" not in got[e].feedback for e in IMAGE_EXERCISES)
