"""lab2 checks at their thresholds, and the feedback for a volume libvirt does not list yet."""
from __future__ import annotations

import pytest

from grader.core import labdef
from grader.core.evidence import Evidence, HostEvidence, PoolEvidence, VolumeEvidence
from grader.core.scoring import score

GiB = 2**30
POOL_XML = """<pool type='dir'><name>lab2</name><capacity unit='bytes'>{capacity}</capacity>
  <allocation unit='bytes'>0</allocation><available unit='bytes'>{capacity}</available>
  <target><path>/var/lib/libvirt/lab2</path></target></pool>"""


def volume(name: str, fmt: str, capacity: int, allocation: int, backing: tuple[str, str] | None = None):
    chain = (f"<backingStore><path>{backing[0]}</path><format type='{backing[1]}'/></backingStore>"
             if backing else "")
    xml = (f"<volume type='file'><name>{name}</name><capacity unit='bytes'>{capacity}</capacity>"
           f"<allocation unit='bytes'>{allocation}</allocation><target>"
           f"<path>/var/lib/libvirt/lab2/{name}</path><format type='{fmt}'/></target>{chain}</volume>")
    return VolumeEvidence(name, xml)


def grade(*volumes: VolumeEvidence, exercise: str, lang: str = "en", pool_capacity: int = 100 * GiB):
    pool = PoolEvidence("lab2", POOL_XML.format(capacity=pool_capacity), active=True, persistent=True,
                        autostart=True, volumes={v.name: v for v in volumes})
    evidence = Evidence("lab2", "s", {"A": HostEvidence("test:///", pools={"lab2": pool})})
    return score(labdef.load("lab2"), evidence, lang, only=[exercise]).exercises[0]


@pytest.mark.parametrize("allocation,key", [(int(0.99 * GiB) + 1, "raw-ok"), (int(0.98 * GiB), "raw-sparse")])
def test_raw_counts_as_fully_allocated_from_99_percent(allocation, key):
    assert grade(volume("disk-raw.img", "raw", GiB, allocation), exercise="vol-raw").messages == [key]


@pytest.mark.parametrize("allocation,key", [(GiB // 10, "qcow2-ok"), (GiB // 10 + 2**20, "qcow2-not-thin")])
def test_qcow2_is_thin_up_to_1_percent(allocation, key):
    got = grade(volume("disk-thin.qcow2", "qcow2", 10 * GiB, allocation), exercise="vol-qcow2")
    assert got.messages == [key]


def test_conversion_keeps_the_raw_images_capacity():
    got = grade(volume("disk-raw.img", "raw", GiB, GiB), volume("disk-converted.qcow2", "qcow2", 2 * GiB, 2**18),
                exercise="vol-convert")
    assert (got.score, got.messages) == (0, ["convert-wrong-capacity"])
    assert "2.0 GiB" in got.feedback and "1.0 GiB" in got.feedback


def test_overlay_on_a_file_of_the_same_name_elsewhere_is_the_wrong_backing():
    got = grade(volume("disk-overlay.qcow2", "qcow2", 10 * GiB, 2**18,
                       backing=("/var/lib/libvirt/images/disk-thin.qcow2", "qcow2")), exercise="vol-overlay")
    assert (got.score, got.messages) == (0, ["overlay-wrong-backing"])
    assert "/var/lib/libvirt/lab2/disk-thin.qcow2" in got.feedback


def test_overcommit_needs_more_promised_than_the_pool_holds():
    huge = volume("disk-huge.qcow2", "qcow2", 100 * GiB, 2**18)
    assert grade(huge, exercise="vol-overcommit").messages == ["not-overcommitted"]
    assert grade(huge, volume("disk-thin.qcow2", "qcow2", 10 * GiB, 2**18),
                 exercise="vol-overcommit").messages == ["overcommit-ok"]


@pytest.mark.parametrize("lang,phrase", [("en", "libvirt does not know it yet"), ("es", "libvirt aún no lo conoce")])
def test_missing_volume_feedback_names_pool_refresh(lang, phrase):
    got = grade(exercise="vol-qcow2", lang=lang)
    assert got.messages == ["vol-missing"]
    assert "virsh pool-refresh lab2" in got.feedback and phrase in got.feedback


@pytest.mark.parametrize("lang,phrase", [("en", "the name's extension decides nothing"),
                                         ("es", "la extensión del nombre no decide nada")])
def test_format_feedback_says_the_name_decides_nothing(lang, phrase):
    got = grade(volume("disk-raw.img", "qcow2", GiB, 2**18), exercise="vol-raw", lang=lang)
    assert got.messages == ["wrong-format"] and phrase in got.feedback
