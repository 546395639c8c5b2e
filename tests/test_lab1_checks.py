"""lab1 checks on pool types this machine cannot run (NFS, kernel iSCSI, logical, gluster),
simulated by libvirt's test driver and read through the real collect code; and `lab start lab1`
leaving the host's other pools alone."""
from __future__ import annotations

import pytest

from grader.core import labdef
from grader.core.evidence import Evidence, HostEvidence, PoolEvidence, VolumeEvidence
from classhelp import collect_student
from grader.provision import StartContext
from grader.core.scoring import score

LAB1_DIR = """<pool type='dir'><name>lab1-dir</name>
  <capacity>100000000000</capacity><allocation>{allocation}</allocation><available>1</available>
  <target><path>{path}</path></target>
  <volume><name>disk1.qcow2</name><capacity>1073741824</capacity><allocation>200704</allocation>
    <target><path>{path}/disk1.qcow2</path><format type='qcow2'/></target></volume>
</pool>"""
NFS = """<pool type='netfs'><name>lab1-shared</name>
  <source><host name='nfs.example.com'/><dir path='/exports/course'/><format type='{format}'/></source>
  <target><path>/var/lib/libvirt/lab1-shared</path></target></pool>"""
GLUSTER_NATIVE = """<pool type='gluster'><name>lab1-shared</name>
  <source><name>course</name><host name='gluster.example.com'/><dir path='/'/></source></pool>"""
KERNEL_ISCSI = """<pool type='iscsi'><name>lab1-iscsi</name>
  <source><host name='192.0.2.10' port='3260'/><device path='{device}'/></source>
  <target><path>/dev/disk/by-path</path></target>{luns}</pool>"""
LUN = """<volume type='block'><name>unit:0:0:1</name><capacity>1073741824</capacity>
  <allocation>1073741824</allocation><target><path>/dev/disk/by-path/ip-192.0.2.10:3260-iscsi-lun-1</path>
  </target></volume>"""
LOGICAL = """<pool type='logical'><name>lab1-iscsi</name>
  <source><device path='/dev/sdb1'/><name>vg</name><format type='lvm2'/></source>
  <target><path>/dev/vg</path></target></pool>"""
HOST_DEFAULT = """<pool type='dir'><name>default</name><target><path>/var/lib/libvirt/images</path></target>
  <volume><name>precious.qcow2</name><capacity>1073741824</capacity>
    <target><path>/var/lib/libvirt/images/precious.qcow2</path><format type='qcow2'/></target></volume>
</pool>"""


def host_file(tmp_path, *pools: str) -> str:
    path = tmp_path / "host.xml"
    path.write_text("<node>" + "".join(pools) + "</node>")
    return f"test://{path}"


def graded(uri: str, lang: str = "en", marker: str | None = None, listed: str | None = None) -> dict:
    """The exercises' results; `marker` is the share marker's reference the grader is given,
    `listed` the ctime of the marker file lab1-shared shows (the test driver has no file times)."""
    lab = labdef.load("lab1")
    evidence = collect_student(lab, "s", {"A": uri})
    if marker:
        evidence.expected = {"share_marker": marker}
    if listed:
        evidence.host().pools["lab1-shared"].volumes["kvm-storage-lab.marker"] = VolumeEvidence(
            "kvm-storage-lab.marker", "<volume><name>kvm-storage-lab.marker</name><target>"
            "<path>/var/lib/libvirt/lab1-shared/kvm-storage-lab.marker</path>"
            f"<timestamps><ctime>{listed}</ctime></timestamps></target></volume>")
    return {e.id: e for e in score(lab, evidence, lang).exercises}


MARKER = "kvm-storage-lab.marker@1796668500.186554755"


def test_nfs_export_and_kernel_iscsi_pool_get_full_marks(tmp_path):
    uri = host_file(tmp_path, NFS.format(format="nfs"),
                    KERNEL_ISCSI.format(device="iqn.2024-01.org.example:course", luns=LUN))
    got = graded(uri, marker=MARKER, listed="1796668500.186554755")
    assert (got["pool-netfs"].score, got["pool-netfs"].messages) == (2, ["shared-ok"])
    assert "nfs.example.com:/exports/course" in got["pool-netfs"].feedback
    assert (got["pool-iscsi"].score, got["pool-iscsi"].messages) == (2, ["iscsi-ok"])
    assert "unit:0:0:1" in got["pool-iscsi"].feedback


@pytest.mark.parametrize("marker,listed,key,words", [
    (MARKER, None, "shared-no-marker", "virsh pool-refresh lab1-shared"),
    (MARKER, "1796668999.000000001", "shared-other-marker", "a local directory, not the export"),
    (None, None, "shared-unverified", "share_marker"),
    (None, "1796668500.186554755", "shared-unverified", "share_marker"),
])
def test_a_netfs_pool_that_does_not_show_the_exports_marker_earns_half(tmp_path, marker, listed, key, words):
    """A pool's definition is a claim (a local mount under the export's name starts it too):
    full marks need the course's marker, with the ctime the grader was given."""
    got = graded(host_file(tmp_path, NFS.format(format="nfs")), marker=marker, listed=listed)["pool-netfs"]
    assert (got.score, got.messages) == (1, [key])
    assert words in got.feedback
    got_es = graded(host_file(tmp_path, NFS.format(format="nfs")), "es", marker, listed)["pool-netfs"]
    assert got_es.feedback != got.feedback and "lab1-shared" in got_es.feedback


@pytest.mark.parametrize("pool,exercise,key", [
    (NFS.format(format="cifs"), "pool-netfs", "shared-wrong-format"),
    (NFS.format(format="auto"), "pool-netfs", "shared-wrong-format"),
    (GLUSTER_NATIVE, "pool-netfs", "shared-gluster-type"),
    (KERNEL_ISCSI.format(device="iqn.2024-01.org.example:course", luns=""), "pool-iscsi", "iscsi-no-luns"),
    (KERNEL_ISCSI.format(device="/dev/sdb", luns=LUN), "pool-iscsi", "iscsi-no-source"),
    (LOGICAL, "pool-iscsi", "iscsi-wrong-type"),
])
def test_wrong_pools_score_zero_with_their_feedback(tmp_path, pool, exercise, key):
    got = graded(host_file(tmp_path, pool))[exercise]
    assert (got.score, got.messages) == (0, [key])


def test_gluster_type_feedback_explains_netfs_in_both_languages(tmp_path):
    uri = host_file(tmp_path, GLUSTER_NATIVE)
    assert "libgfapi" in graded(uri, "en")["pool-netfs"].feedback
    assert "'netfs' con formato glusterfs" in graded(uri, "es")["pool-netfs"].feedback


def test_target_path_with_trailing_slash_is_the_same_directory(tmp_path):
    uri = host_file(tmp_path, LAB1_DIR.format(path="/var/lib/libvirt/lab1-dir/", allocation=10**9))
    got = graded(uri)
    # the test driver reports pools as active but never autostart: the path itself is accepted
    assert (got["pool-dir"].score, got["pool-dir"].messages) == (2, ["dir-no-autostart"])
    assert got["pool-volume"].messages == ["volume-ok"]


def test_pool_allocation_below_its_volumes_says_refresh():
    """libvirt updates a pool's figures on create and refresh; stale ones are possible but the
    test driver always recomputes them, so this evidence is built by hand."""
    pool_xml = LAB1_DIR.format(path="/var/lib/libvirt/lab1-dir", allocation=0)
    volume_xml = pool_xml[pool_xml.index("<volume>"):pool_xml.index("</pool>")]
    pool = PoolEvidence("lab1-dir", pool_xml, active=True, persistent=True, autostart=True,
                        volumes={"disk1.qcow2": VolumeEvidence("disk1.qcow2", volume_xml)})
    evidence = Evidence("lab1", "s", {"A": HostEvidence("test:///", pools={"lab1-dir": pool})})
    result = score(labdef.load("lab1"), evidence, "es", only=["pool-volume"])
    got = result.exercises[0]
    assert (got.score, got.messages) == (0, ["volume-allocation-stale"])
    assert "virsh pool-refresh lab1-dir" in got.feedback


def test_grader_reads_only_lab1_pools(tmp_path):
    lab = labdef.load("lab1")
    evidence = collect_student(lab, "s", {"A": host_file(tmp_path, HOST_DEFAULT, NFS.format(format="nfs"))})
    assert set(evidence.host().pools) == {"lab1-shared"}


def test_lab_start_removes_only_lab1_pools(tmp_path):
    import libvirt

    conn = libvirt.open(host_file(tmp_path, HOST_DEFAULT, NFS.format(format="nfs"), LOGICAL))
    try:
        labdef.load("lab1").module("start").start(StartContext(lab="lab1", conns={"A": conn}))
        assert sorted(conn.listStoragePools() + conn.listDefinedStoragePools()) == ["default"]
        assert conn.storagePoolLookupByName("default").listVolumes() == ["precious.qcow2"]
    finally:
        conn.close()


def test_lab_start_empties_and_removes_lab1_dir(tmp_path):
    import libvirt

    conn = libvirt.open(host_file(tmp_path, HOST_DEFAULT,
                                  LAB1_DIR.format(path="/var/lib/libvirt/lab1-dir", allocation=10**9)))
    try:
        before = conn.storagePoolLookupByName("lab1-dir").listVolumes()
        labdef.load("lab1").module("start").start(StartContext(lab="lab1", conns={"A": conn}))
        assert before == ["disk1.qcow2"]
        assert conn.listStoragePools() + conn.listDefinedStoragePools() == ["default"]
    finally:
        conn.close()


def test_a_netfs_pool_without_its_source_says_what_is_missing():
    """libvirt itself refuses to define such a pool ("missing storage pool source host name"), so
    only a modified libvirtd serves one; the student still reads what a netfs pool needs."""
    import json

    lab = labdef.load("lab1")
    data = json.loads((lab.folder / "fixtures" / "solved.json").read_text())
    evidence = Evidence.from_dict(data)
    pool = evidence.host().pool("lab1-shared")
    pool.xml = pool.xml.replace(pool.view.node.find("source/host").get("name"), "")
    pool.__dict__.pop("view")
    result = {e.id: e for e in score(lab, evidence).exercises}["pool-netfs"]
    assert (result.score, result.messages) == (0, ["shared-no-source"])
    assert "source host: none" in result.feedback and "--source-host" in result.feedback
