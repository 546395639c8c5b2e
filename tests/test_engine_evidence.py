"""Collect on libvirt's test driver, and evidence that round-trips JSON so a saved file regrades
exactly as the live host graded."""
from __future__ import annotations

import json

import libvirt
import pytest

from grader.core import labdef
from grader.core.labdef import Scope
from grader.reading.collect import collect_host
from grader.reading.connection import open_host
from grader.errors import CollectError, HostUnreachable
from grader.core.evidence import Evidence
from classhelp import collect_student
from grader.core.scoring import score
from grader.core.xmlmodel import LAB_NS
from labs.lab3 import solution

META = "<metadata><lab:lab xmlns:lab='" + LAB_NS + "' id='lab3' nonce='{nonce}'/></metadata>"
DOMAIN = """<domain type='test'><name>{name}</name>{meta}<memory unit='MiB'>64</memory>
  <os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>
  <driver name='qemu' type='{fmt}'/><source file='/var/lib/libvirt/lab3/{file}'/>
  <target dev='vda' bus='virtio'/></disk></devices></domain>"""
NODE = f"""<node>
  {DOMAIN.format(name="lab3-vm", meta=META.format(nonce="0123456789abcdef"), fmt="qcow2", file="lab3-vm.qcow2")}
  {DOMAIN.format(name="lab3-raw", meta=META.format(nonce="fedcba9876543210"), fmt="raw", file="lab3-raw.img")}
  {DOMAIN.format(name="other", meta="", fmt="raw", file="other.img")}
  <pool type='dir'><name>lab3</name><capacity unit='GiB'>10</capacity><allocation unit='MiB'>2</allocation>
    <available unit='GiB'>9</available><target><path>/var/lib/libvirt/lab3</path></target>
    <volume type='file'><name>lab3-vm.qcow2</name><capacity unit='MiB'>256</capacity>
      <allocation unit='KiB'>196</allocation><target><path>/var/lib/libvirt/lab3/lab3-vm.qcow2</path>
      <format type='qcow2'/></target></volume>
    <volume type='file'><name>lab3-raw.img</name><capacity unit='MiB'>64</capacity>
      <allocation unit='MiB'>64</allocation><target><path>/var/lib/libvirt/lab3/lab3-raw.img</path>
      <format type='raw'/></target></volume>
  </pool>
  <pool type='dir'><name>elsewhere</name><capacity unit='GiB'>1</capacity><allocation>0</allocation>
    <available unit='GiB'>1</available><target><path>/srv/elsewhere</path></target></pool>
</node>"""


@pytest.fixture
def test_host(tmp_path):
    """A test:/// URI: each connection opened on it gets its own fresh copy of this host."""
    path = tmp_path / "host.xml"
    path.write_text(NODE)
    return f"test://{path}"


@pytest.fixture
def lab3():
    return labdef.load("lab3")


def collect(uri, scope):
    conn = open_host(uri)
    try:
        return collect_host(uri, scope, conn)
    finally:
        conn.close()


def test_collect_reads_only_what_the_lab_names(test_host, lab3):
    host = collect(test_host, lab3.scope)
    assert set(host.pools) == {"lab3"} and set(host.domains) == {"lab3-vm", "lab3-raw"}
    pool = host.pool("lab3")
    assert pool.active and pool.persistent and set(pool.volumes) == {"lab3-vm.qcow2", "lab3-raw.img"}
    vm = host.domain("lab3-vm")
    assert vm.state == "running" and vm.persistent and vm.inactive_xml  # test driver domains run
    assert vm.snapshots == {} and vm.current_snapshot is None
    assert vm.view.lab_metadata.nonce == "0123456789abcdef"
    assert host.volume_by_path("/var/lib/libvirt/lab3/lab3-raw.img")[1].name == "lab3-raw.img"
    assert host.volume_by_path("/nowhere") is None and host.volume_by_path(None) is None
    assert host.libvirt_calls > 10


def test_collect_everything_when_the_scope_says_nothing(test_host):
    host = collect(test_host, Scope(host_facts=True))
    assert {"lab3", "elsewhere"} <= set(host.pools) and "other" in host.domains
    assert host.hostname and host.libvirt_version.count(".") == 2


def test_snapshot_tree_is_collected_with_parents_and_current(test_host, lab3):
    conn = libvirt.open(test_host)
    vm = conn.lookupByName("lab3-vm")
    solution.take_clean(vm)
    solution.take_live(vm)
    solution.revert_and_branch(vm)
    evidence = collect_student(lab3, "s1", {"A": test_host}, connections={"A": conn})
    dom = evidence.host().domain("lab3-vm")
    assert {n: s.parent for n, s in dom.snapshots.items()} == {"clean": None, "live-1": "clean", "branch-b": "clean"}
    assert dom.current_snapshot == "branch-b" and dom.children("clean") == ["branch-b", "live-1"]
    result = score(lab3, evidence)
    assert [e.score for e in result.exercises] == [2, 3, 3, 0]
    conn.close()


def test_evidence_json_round_trip_regrades_identically(test_host, lab3, tmp_path):
    conn = libvirt.open(test_host)
    solution.take_clean(conn.lookupByName("lab3-vm"))
    evidence = collect_student(lab3, "s1", {"A": test_host}, connections={"A": conn})
    conn.close()
    path = tmp_path / "ev.json"
    path.write_text(evidence.to_json())
    again = Evidence.load(path)
    assert again.to_json() == evidence.to_json()
    assert again.to_dict()["hosts"]["A"]["facts"]["domains"]["lab3-vm"]["snapshots"] == {"clean": None}
    assert score(lab3, again).to_dict() == score(lab3, evidence).to_dict()


@pytest.mark.parametrize("path", sorted((labdef.load("lab3").folder / "fixtures").glob("*.json")), ids=lambda p: p.stem)
def test_saved_fixtures_round_trip(path):
    data = json.loads(path.read_text())
    data.pop("expect")
    assert json.loads(Evidence.from_dict(data).to_json()) == data


def test_unreachable_host_is_one_line():
    with pytest.raises(HostUnreachable, match=r"^cannot connect to qemu\+tcp://127\.0\.0\.1:1/system: [^\n]+$"):
        open_host("qemu+tcp://127.0.0.1:1/system")


def test_a_dead_connection_mid_collection_is_that_students_result(test_host, lab3):
    """A connection that dies under the grader (here: closed) fails that student, nobody else."""
    dead = libvirt.open(test_host)
    dead.close()
    with pytest.raises(CollectError, match="libvirt failed while reading"):
        collect_host(test_host, lab3.scope, dead)
    results = []
    for student, conns in (("broken", {"A": dead}), ("fine", None)):
        evidence = collect_student(lab3, student, {"A": test_host}, connections=conns)
        results.append(score(lab3, evidence))
    broken, fine = results
    assert broken.status == "unreachable" and broken.score is None and broken.exercises == []
    assert broken.error.startswith(f"host A: {test_host} stopped answering: libvirt failed while reading")
    assert "\n" not in broken.error
    assert fine.status == "graded" and fine.score == 0 and len(fine.exercises) == 4
