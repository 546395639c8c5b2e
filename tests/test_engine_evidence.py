"""Collect on libvirt's test driver, and evidence that round-trips JSON so a saved file regrades
exactly as the live host graded (on the engine's toy lab)."""
from __future__ import annotations

import json

import libvirt
import pytest

from classhelp import collect_student
from grader.core import labdef
from grader.core.evidence import BadEvidence, Evidence
from grader.core.labdef import Scope
from grader.core.scoring import score
from grader.errors import CollectError, HostUnreachable
from grader.reading.collect import collect_host
from grader.reading.connection import open_host
from toyhelp import HOSTS, TOY, host

#: A host with the toy lab's objects and others the grader must not read.
EXTRA = """<pool type='dir'><name>elsewhere</name><capacity unit='GiB'>1</capacity><allocation>0</allocation>
  <available unit='GiB'>1</available><target><path>/srv/elsewhere</path></target></pool>
  <domain type='test'><name>other</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>
</node>"""


@pytest.fixture
def busy_host(tmp_path):
    """test:/// URI: each connection opened on it gets its own fresh copy of this host."""
    path = tmp_path / "host.xml"
    path.write_text((HOSTS / "right.xml").read_text().replace("</node>", EXTRA))
    return f"test://{path}"


def collect(uri, scope):
    conn = open_host(uri)
    try:
        return collect_host(uri, scope, conn)
    finally:
        conn.close()


def test_collect_reads_only_what_the_lab_names(busy_host):
    found = collect(busy_host, TOY.scope)
    assert set(found.pools) == {"toy-pool"} and set(found.domains) == {"toy-vm"}
    pool = found.pool("toy-pool")
    assert pool.active and pool.persistent and set(pool.volumes) == {"toy.qcow2"}
    vm = found.domain("toy-vm")
    assert vm.state == "shutoff" and vm.persistent and vm.inactive_xml
    assert set(vm.snapshots) == {"first"} and vm.current_snapshot == "first"
    assert vm.view.lab_metadata.nonce == "0123456789abcdef"
    assert found.volume_by_path("/var/lib/libvirt/toy/toy.qcow2")[1].name == "toy.qcow2"
    assert found.volume_by_path("/nowhere") is None and found.volume_by_path(None) is None
    assert found.libvirt_calls > 5
    assert (found.pool_scope, found.domain_scope) == (["toy-pool"], ["toy-vm"])


def test_collect_everything_when_the_scope_says_nothing(busy_host):
    found = collect(busy_host, Scope(host_facts=True))
    assert {"toy-pool", "elsewhere"} <= set(found.pools) and "other" in found.domains
    assert found.hostname and found.libvirt_version.count(".") == 2


def test_a_host_that_serves_more_than_the_limit_is_an_error_naming_it(busy_host):
    conn = open_host(busy_host)
    with pytest.raises(CollectError, match=r"served more than 0 MiB of libvirt XML .* the limit for one host"):
        collect_host(busy_host, TOY.scope, conn, max_bytes=1000)
    conn.close()


def test_snapshot_tree_is_collected_with_parents_and_current(busy_host):
    conn = libvirt.open(busy_host)
    vm = conn.lookupByName("toy-vm")
    vm.snapshotCreateXML("<domainsnapshot><name>second</name></domainsnapshot>", 0)
    vm.snapshotCreateXML("<domainsnapshot><name>third</name></domainsnapshot>", 0)
    evidence = collect_student(TOY, "s1", {"A": busy_host}, connections={"A": conn})
    dom = evidence.host().domain("toy-vm")
    assert {n: s.parent for n, s in dom.snapshots.items()} == {"first": None, "second": "first", "third": "second"}
    assert dom.current_snapshot == "third" and dom.children("first") == ["second"]
    assert score(TOY, evidence).score == 5
    conn.close()


def test_evidence_json_round_trip_regrades_identically(tmp_path):
    evidence = collect_student(TOY, "s1", {"A": host("right")})
    path = tmp_path / "ev.json"
    path.write_text(evidence.to_json())
    again = Evidence.load(path)
    assert again.to_json() == evidence.to_json()
    assert again.to_dict()["hosts"]["A"]["facts"]["domains"]["toy-vm"]["snapshots"] == {"first": None}
    assert again.host().pool_scope == ["toy-pool"]
    assert score(TOY, again).to_dict() == score(TOY, evidence).to_dict()


@pytest.mark.parametrize("lab_id", labdef.available())
def test_saved_fixtures_of_every_lab_round_trip(lab_id):
    for path in sorted((labdef.load(lab_id).folder / "fixtures").glob("*.json")):
        data = json.loads(path.read_text())
        data.pop("expect")
        assert json.loads(Evidence.from_dict(data).to_json()) == data, path.name


@pytest.mark.parametrize("document, problem", [
    ([], "the document should be dict, not list"),
    ({"lab": "toy", "student": "s", "hosts": []}, "hosts should be dict, not list"),
    ({"lab": "toy", "student": "s", "hosts": {"A": {"uri": "x", "pools": {"p": []}}}}, "p should be dict"),
    ({"lab": "toy", "student": "s", "hosts": {"A": {"uri": "x", "domains": {"d": {"name": "d"}}}}},
     "domain d has no 'uuid'"),
    ({"lab": "toy", "student": "s", "hosts": {"A": {"uri": "x", "pools": {"p": {
        "name": "p", "xml": "<pool/>", "active": "yes", "persistent": True, "autostart": True}}}}},
     "pool p.active should be bool, not str"),
    ({"lab": 3, "student": "s"}, "lab should be str, not int"),
    ({"student": "s"}, "missing key 'lab'"),
])
def test_evidence_of_the_wrong_shape_is_bad_evidence_saying_what(document, problem):
    with pytest.raises(BadEvidence, match=problem):
        Evidence.from_dict(document)


def test_unreachable_host_is_one_line():
    with pytest.raises(HostUnreachable, match=r"^cannot connect to qemu\+tcp://127\.0\.0\.1:1/system: [^\n]+$"):
        open_host("qemu+tcp://127.0.0.1:1/system")


def test_a_dead_connection_mid_collection_is_that_students_result():
    """A connection that dies under the grader (here: closed) fails that student, nobody else."""
    uri = host("right")
    dead = libvirt.open(uri)
    dead.close()
    with pytest.raises(CollectError, match="libvirt failed while reading"):
        collect_host(uri, TOY.scope, dead)
    broken = score(TOY, collect_student(TOY, "broken", {"A": uri}, connections={"A": dead}))
    fine = score(TOY, collect_student(TOY, "fine", {"A": uri}))
    assert broken.status == "unreachable" and broken.score is None and broken.exercises == []
    assert broken.error.startswith(f"host A: {uri} stopped answering: libvirt failed while reading")
    assert "\n" not in broken.error
    assert fine.status == "graded" and fine.score == 5
