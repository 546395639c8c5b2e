"""Copied hosts: students whose hosts share a libvirt host UUID, a lab nonce, a domain UUID, a
volume key or a MAC address are grouped for the instructor; never in a student's feedback, never
a change of score, and no false alarm from what is shared by construction."""
from __future__ import annotations

import json

from classhelp import collect_student, make_class
from grader.cli.main import grade
from grader.core import copies, labdef
from grader.core.evidence import Evidence
from grader.testing import simclass
from toyhelp import TOY, host, run


def test_two_students_on_one_host_file_are_a_group_with_the_reason():
    ana, max_ = collect_student(TOY, "ana", {"A": host("right")}), collect_student(TOY, "max", {"A": host("right")})
    ben = collect_student(TOY, "ben", {"A": host("untouched")})
    ben.hosts["A"].domains["toy-vm"].uuid = "11111111-2222-3333-4444-555555555555"   # ben's own VM
    ben.hosts["A"].domains["toy-vm"].__dict__.pop("view", None)
    found = copies.find({e.student: copies.signals(e) for e in (ana, max_)}
                        | {"ben": {("domain UUID", "11111111-2222-3333-4444-555555555555")}})
    assert found == [{"students": ["ana", "max"],
                      "reason": "same lab nonce 0123456789abcdef; same domain UUID 7b1a3c52-4c0e-4d4e-9b60-0d7a0e6a2222"}]


def test_groups_are_connected_and_name_who_shares_what():
    signals = {"ana": {("volume key", "k1")}, "ben": {("volume key", "k1"), ("host UUID", "h")},
               "eve": {("host UUID", "h")}, "zoe": {("MAC address", "52:54:00:00:00:01")}}
    assert copies.find(signals) == [{"students": ["ana", "ben", "eve"],
                                     "reason": "same host UUID h (ben, eve); same volume key k1 (ana, ben)"}]


def test_a_simulated_class_raises_no_false_alarm(tmp_path):
    """libvirt's test driver reports no host UUID, and dir-pool volume keys are paths (the same
    file name on every student's host): neither is a sign of copying."""
    lab3 = labdef.load("lab3")
    path = make_class(tmp_path, [simclass.state_of(i) for i in range(12)])
    roster = [line.split(",") for line in path.read_text().splitlines()[1:]]
    evidence = [collect_student(lab3, student, {"A": uri}) for student, uri, *_ in roster]
    assert all(e.host().host_uuid is None for e in evidence)
    assert all(vol.view.key.startswith("/") for e in evidence for p in e.host().pools.values()
               for vol in p.volumes.values())
    assert copies.find({e.student: copies.signals(e) for e in evidence}) == []


def test_a_students_own_roles_are_one_student():
    """lab4: the domain that migrated from A to B keeps its UUID and nonce: not a copy."""
    lab4 = labdef.load("lab4")
    data = json.loads((lab4.folder / "fixtures" / "solved.json").read_text())
    data.pop("expect")
    solved = Evidence.from_dict(data)
    assert copies.find({"ana": copies.signals(solved)}) == []
    twin = Evidence.from_dict({**data, "student": "ben"})
    [group] = copies.find({"ana": copies.signals(solved), "ben": copies.signals(twin)})
    assert group["students"] == ["ana", "ben"] and "same host UUID" in group["reason"]


def test_mac_addresses_and_volume_keys_that_are_not_paths_count(tmp_path):
    node = simclass.host_xml("right").replace(
        "<devices>", "<devices><interface type='network'><mac address='52:54:00:AB:CD:EF'/>"
        "<source network='default'/></interface>", 1)
    (tmp_path / "ana.xml").write_text(node)
    ana = collect_student(labdef.load("lab3"), "ana", {"A": f"test://{tmp_path / 'ana.xml'}"})
    assert ana.host().domain("lab3-vm").view.macs == ["52:54:00:ab:cd:ef"]     # libvirt's own case
    found = copies.signals(ana)
    assert ("MAC address", "52:54:00:ab:cd:ef") in found
    assert not [v for k, v in found if k == "volume key"]                      # dir volumes: paths
    volume = ana.host().pool("lab3").volumes["lab3-vm.qcow2"]                   # an LV's key is its UUID
    volume.xml = volume.xml.replace("<key>/var/lib/libvirt/lab3/lab3-vm.qcow2</key>", "<key>Kz3pWq-LVM-UUID</key>")
    volume.__dict__.pop("view", None)
    assert ("volume key", "Kz3pWq-LVM-UUID") in copies.signals(ana)


def test_a_class_run_reports_copies_to_the_instructor_only_and_scores_stay(tmp_path):
    roster = simclass.write_roster(tmp_path / "roster.csv", [("ana", host("right")), ("max", host("right")),
                                                             ("ben", host("untouched"))])
    status, out, err = run(grade, "toy", "--roster", roster, "--format", "json", "--out", tmp_path / "runs")
    assert status == 0, err
    data = json.loads(out)
    assert [r["score"] for r in data["results"]] == [5, 5, 0]
    assert data["copies"] == [{"students": ["ana", "ben", "max"], "reason":
                               "same lab nonce 0123456789abcdef; same domain UUID 7b1a3c52-4c0e-4d4e-9b60-0d7a0e6a2222"}]
    [rundir] = (tmp_path / "runs").iterdir()
    assert "Copied hosts?" in (rundir / "summary.txt").read_text()
    assert "Shares an identity with ben, max" in (rundir / "report.html").read_text()
    for feedback in (rundir / "feedback").glob("*.md"):
        text = feedback.read_text()
        assert "identity" not in text and "nonce" not in text and "max" not in text.replace(feedback.stem, "")
    status, again, _ = run(grade, "toy", "--from-evidence", rundir, "--format", "json")
    assert json.loads(again)["copies"] == data["copies"]          # regraded offline: the same groups
