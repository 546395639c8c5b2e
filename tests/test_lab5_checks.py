"""lab5's checks: the score and the feedback a student reads, in English and Spanish.

Two sources of evidence, both read through the real collect code:

* simulated hosts on libvirt's test driver, for every message: this machine's kernel has no
  device-mapper or ZFS, so its light lab hosts cannot make logical volumes or zvols. The pool and
  volume XML below has the shape libvirt's disk, logical and zfs backends report (an LVM
  snapshot's capacity is its origin's, its allocation the copy-on-write space LVM reserved, its
  backing store the origin's path: storage_backend_logical.c);
* evidence captured from a VM host (labs/lab5/fixtures, made by its capture.py), which these tests
  read when it is there.

Also: lab5's spare disks as `lab start` and the checks name them.
"""
from __future__ import annotations

import json

import libvirt
import pytest

from classhelp import collect_student
from grader.core import labdef
from grader.core.evidence import Evidence
from grader.core.scoring import score
from grader.errors import UsageError
from labs.lab5.disks import disk_of, is_system_disk, partition_name, spare_disks

LAB = labdef.load("lab5")
FIXTURES = LAB.folder / "fixtures"
MiB = 2**20

# --- simulated hosts ------------------------------------------------------------------------------

DISK = """<pool type='{type}'><name>lab5-disk</name>
  <source>{device}<format type='{format}'/></source><target><path>/dev</path></target>{volumes}</pool>"""
PARTITION = """<volume type='block'><name>vdb1</name><capacity>{size}</capacity><allocation>{size}</allocation>
  <target><path>/dev/vdb1</path></target></volume>""".format(size=100 * MiB)
VG = """<pool type='{type}'><name>lab5-vg</name>
  <capacity>1069547520</capacity><allocation>335544320</allocation><available>734003200</available>
  <source><device path='/dev/vdc'/><name>{vg}</name><format type='lvm2'/></source>
  <target><path>/dev/{vg}</path></target>{volumes}</pool>"""
LV = """<volume type='block'><name>{name}</name><capacity>{capacity}</capacity><allocation>{allocation}</allocation>
  <target><path>/dev/lab5-vg/{name}</path></target>{backing}</volume>"""
BACKING = "<backingStore><path>{path}</path><format type='lvm2'/></backingStore>"
ZFS = """<pool type='{type}'><name>lab5-zfs</name>
  <source><name>lab5-zfs</name><device path='{device}'/></source>
  <target><path>/dev/zvol/lab5-zfs</path></target>{volumes}</pool>"""
ZVOL = """<volume type='block'><name>vol1</name><capacity>{size}</capacity><allocation>{size}</allocation>
  <target><path>/dev/zvol/lab5-zfs/vol1</path></target></volume>""".format(size=128 * MiB)


def lv(name, capacity_mib, allocation_mib=None, backing=None):
    return LV.format(name=name, capacity=capacity_mib * MiB, allocation=(allocation_mib or capacity_mib) * MiB,
                     backing=BACKING.format(path=backing) if backing else "")


DATA = lv("data", 256)
SNAP = lv("data-snap", 256, 64, backing="/dev/lab5-vg/data")


def disk(type="disk", device="/dev/vdb", format="gpt", volumes=PARTITION):
    return DISK.format(type=type, device=f"<device path='{device}'/>", format=format, volumes=volumes)


def vg(type="logical", name="lab5-vg", volumes=DATA + SNAP):
    return VG.format(type=type, vg=name, volumes=volumes)


def zfs(type="zfs", device="/dev/vdd", volumes=ZVOL):
    return ZFS.format(type=type, device=device, volumes=volumes)


SOLVED = (disk(), vg(), zfs())


def simulated(tmp_path, *pools, stop=(), transient=()):
    """Graded evidence of a test-driver host with these pools; `stop` are destroyed first, and
    `transient` re-created with pool-create (the test driver defines persistent pools only)."""
    path = tmp_path / "host.xml"
    path.write_text("<node>" + "".join(pools) + "</node>")
    uri = f"test://{path}"
    conn = libvirt.open(uri)
    try:
        for name in (*stop, *transient):
            pool = conn.storagePoolLookupByName(name)
            xml = pool.XMLDesc(0)
            pool.destroy()
            if name in transient:
                pool.undefine()
                conn.storagePoolCreateXML(xml, 0)
        return collect_student(LAB, "s", {"A": uri}, connections={"A": conn})
    finally:
        conn.close()


def graded(ev: Evidence, lang: str = "en") -> dict:
    return {e.id: e for e in score(LAB, ev, lang).exercises}


CASES = {  # name: (pools, stop, transient, exercise, score, message, English phrase, Spanish phrase)
    "solved disk": (SOLVED, (), (), "pool-disk", 2, "disk-ok",
                    "on /dev/vdb with a GPT partition table", "sobre /dev/vdb con una tabla de particiones GPT"),
    "solved vg": (SOLVED, (), (), "pool-logical", 2, "vg-ok",
                  "the LVM volume group lab5-vg on /dev/vdc", "el grupo de volúmenes LVM lab5-vg sobre /dev/vdc"),
    "solved snap": (SOLVED, (), (), "snap-lvm", 3, "snap-ok",
                    "storage-level snapshot: LVM takes it beneath the images, it works for any volume, raw included",
                    "instantánea a nivel de almacenamiento: la toma LVM por debajo de las imágenes"),
    "solved zfs": (SOLVED, (), (), "pool-zfs", 3, "zfs-ok",
                   "the zpool lab5-zfs on /dev/vdd", "el zpool lab5-zfs sobre /dev/vdd"),
    "no disk pool": ((), (), (), "pool-disk", 0, "disk-missing",
                     "--source-format gpt", "escribe una tabla de particiones GPT vacía"),
    "disk as dir": ((disk(type="dir", volumes=""),), (), (), "pool-disk", 0, "disk-wrong-type",
                    "of type 'dir', not 'disk'", "de tipo 'dir', no 'disk'"),
    "disk dos": ((disk(format="dos"),), (), (), "pool-disk", 0, "disk-wrong-format",
                 "format 'dos', not 'gpt'", "'dos', no 'gpt'"),
    "disk stopped": ((disk(),), ("lab5-disk",), (), "pool-disk", 0, "disk-inactive",
                     "defined on /dev/vdb but not active", "definido sobre /dev/vdb pero no está activo"),
    "disk empty": ((disk(volumes=""),), (), (), "pool-disk", 0, "disk-no-partition",
                   "holds no partition", "no contiene ninguna partición"),
    "disk transient": ((disk(),), (), ("lab5-disk",), "pool-disk", 0, "pool-transient",
                       "Pool 'lab5-disk' exists but is transient", "existe pero es transitorio"),
    "disk on sda": ((disk(device="/dev/sda"),), (), (), "pool-disk", 0, "pool-system-disk",
                    "is on /dev/sda, the name a host's own system disk normally has",
                    "está sobre /dev/sda, el nombre que suele tener el disco del propio sistema"),
    "no vg": ((), (), (), "pool-logical", 0, "vg-missing", "runs pvcreate and vgcreate", "ejecuta pvcreate y vgcreate"),
    "vg as dir": ((vg(type="dir", volumes=""),), (), (), "pool-logical", 0, "vg-wrong-type",
                  "of type 'dir', not 'logical'", "de tipo 'dir', no 'logical'"),
    "vg named vg0": ((vg(name="vg0", volumes=DATA),), (), (), "pool-logical", 0, "vg-wrong-name",
                     "works on volume group 'vg0', not on one named lab5-vg",
                     "trabaja sobre el grupo de volúmenes 'vg0'"),
    "vg stopped": ((vg(),), ("lab5-vg",), (), "pool-logical", 0, "vg-inactive",
                   "defined on /dev/vdc but not active", "definido sobre /dev/vdc pero no está activo"),
    "vg transient": ((vg(),), (), ("lab5-vg",), "pool-logical", 0, "pool-transient",
                     "Pool 'lab5-vg' exists but is transient", "es transitorio"),
    "no data": ((vg(volumes=lv("other", 64)),), (), (), "pool-logical", 0, "data-missing",
                "holds no volume 'data' (it holds: other)", "no contiene ningún volumen 'data' (contiene: other)"),
    "data 128M": ((vg(volumes=lv("data", 128)),), (), (), "pool-logical", 0, "data-wrong-capacity",
                  "'data' holds 128.0 MiB, not 256 MiB", "'data' tiene 128.0 MiB, no 256 MiB"),
    "snap without pool": ((), (), (), "snap-lvm", 0, "snap-no-pool",
                          "do exercise pool-logical first", "haz primero el ejercicio pool-logical"),
    "snap with vg stopped": ((vg(),), ("lab5-vg",), (), "snap-lvm", 0, "snap-no-pool",
                             "no active logical pool", "ningún grupo logical 'lab5-vg' activo"),
    "no snap": ((vg(volumes=DATA),), (), (), "snap-lvm", 0, "snap-missing",
                "--backing-vol data", "espacio de copia en escritura"),
    "plain snap": ((vg(volumes=DATA + lv("data-snap", 64)),), (), (), "snap-lvm", 0, "snap-no-backing",
                   "A snapshot shares its blocks with its origin", "Una instantánea comparte sus bloques con su origen"),
    "snap of other": ((vg(volumes=DATA + lv("other", 64) + lv("data-snap", 64, 32, backing="/dev/lab5-vg/other")),),
                      (), (), "snap-lvm", 0, "snap-wrong-origin",
                      "is a snapshot of /dev/lab5-vg/other, not of 'data' (/dev/lab5-vg/data)",
                      "es una instantánea de /dev/lab5-vg/other, no de 'data'"),
    "snap full size": ((vg(volumes=DATA + lv("data-snap", 256, 256, backing="/dev/lab5-vg/data")),), (), (),
                       "snap-lvm", 0, "snap-full-size", "as much as a full copy", "tanto como una copia completa"),
    "no zfs": ((), (), (), "pool-zfs", 0, "zfs-missing", "runs zpool create", "ejecuta zpool create"),
    "zfs as dir": ((zfs(type="dir", volumes=""),), (), (), "pool-zfs", 0, "zfs-wrong-type",
                   "of type 'dir', not 'zfs'", "de tipo 'dir', no 'zfs'"),
    "zfs stopped": ((zfs(),), ("lab5-zfs",), (), "pool-zfs", 0, "zfs-inactive",
                    "is defined (zpool lab5-zfs) but not active", "está definido (zpool lab5-zfs) pero no está activo"),
    "zfs transient": ((zfs(),), (), ("lab5-zfs",), "pool-zfs", 0, "pool-transient", "is transient", "es transitorio"),
    "no zvol": ((zfs(volumes=""),), (), (), "pool-zfs", 0, "zvol-missing",
                "holds no volume 'vol1' (it holds: none)", "no contiene ningún volumen 'vol1'"),
    "zfs on nvme0n1p3": ((zfs(device="/dev/nvme0n1p3"),), (), (), "pool-zfs", 0, "pool-system-disk",
                         "Pool 'lab5-zfs' is on /dev/nvme0n1p3", "está sobre /dev/nvme0n1p3"),
    "zfs on a loop device": ((zfs(device="/dev/loop7"),), (), (), "pool-zfs", 3, "zfs-ok",
                             "on /dev/loop7", "sobre /dev/loop7"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_state_scores_with_its_lesson_in_both_languages(tmp_path, case):
    pools, stop, transient, exercise, points, key, phrase_en, phrase_es = CASES[case]
    ev = simulated(tmp_path, *pools, stop=stop, transient=transient)
    en, es = graded(ev)[exercise], graded(ev, "es")[exercise]
    assert (en.score, en.messages) == (points, [key]), en.feedback
    assert phrase_en in en.feedback and phrase_es in es.feedback


def test_the_solved_host_scores_full_marks_and_names_what_it_read(tmp_path):
    got = graded(simulated(tmp_path, *SOLVED))
    assert sum(e.score for e in got.values()) == 10
    snap = got["snap-lvm"].feedback
    assert "LVM snapshot of /dev/lab5-vg/data" in snap and "its capacity is the origin's (256.0 MiB)" in snap
    assert "64.0 MiB of copy-on-write space" in snap and "virsh snapshot-list" in snap
    assert "image-level snapshot (qcow2) lives inside the image file" in snap
    assert "(vdb1)" in got["pool-disk"].feedback and "/dev/zvol/lab5-zfs/vol1" in got["pool-zfs"].feedback


def test_a_disk_pool_without_a_device_says_which_disk_to_give(tmp_path):
    """libvirt refuses to define one ("missing storage pool source device name"), so only a
    modified libvirtd serves it; the student still reads what a disk pool needs."""
    ev = simulated(tmp_path, *SOLVED)
    pool = ev.host().pool("lab5-disk")
    pool.xml = pool.xml.replace("<device path='/dev/vdb'/>", "")
    pool.__dict__.pop("view", None)
    en, es = graded(ev)["pool-disk"], graded(ev, "es")["pool-disk"]
    assert (en.score, en.messages) == (0, ["disk-no-device"])
    assert "names no source device" in en.feedback and "--source-dev /dev/vdb" in en.feedback
    assert "no indica ningún dispositivo de origen" in es.feedback


def test_the_grader_reads_only_lab5s_pools(tmp_path):
    other = "<pool type='dir'><name>default</name><target><path>/var/lib/libvirt/images</path></target></pool>"
    ev = simulated(tmp_path, other, *SOLVED)
    assert set(ev.host().pools) == {"lab5-disk", "lab5-vg", "lab5-zfs"}


# --- evidence captured from a VM host -------------------------------------------------------------

needs_capture = pytest.mark.skipif(not (FIXTURES / "solved.json").exists(), reason=(
    "no lab5 fixtures captured yet: they come from a VM host (`lab hosts up --vm`, then "
    "labs/lab5/fixtures/capture.py URI)"))


def evidence(case: str) -> Evidence:
    return Evidence.from_dict(json.loads((FIXTURES / f"{case}.json").read_text()))


@needs_capture
def test_a_started_host_scores_zero_and_says_how_to_make_each_pool():
    en, es = graded(evidence("started")), graded(evidence("started"), "es")
    assert sum(e.score for e in en.values()) == 0
    assert "virsh pool-define-as lab5-disk disk --source-dev /dev/vdb --source-format gpt" in en["pool-disk"].feedback
    assert "--source-name lab5-vg" in en["pool-logical"].feedback
    assert "do exercise pool-logical first" in en["snap-lvm"].feedback
    assert "zpool create" in en["pool-zfs"].feedback
    assert es["pool-disk"].feedback.startswith("No hay ningún grupo de almacenamiento 'lab5-disk'")
    assert "haz primero el ejercicio pool-logical" in es["snap-lvm"].feedback


@needs_capture
def test_the_solved_host_scores_full_marks_and_teaches_storage_level_snapshots():
    en, es = graded(evidence("solved")), graded(evidence("solved"), "es")
    assert {k: e.score for k, e in en.items()} == {"pool-disk": 2, "pool-logical": 2, "snap-lvm": 3, "pool-zfs": 3}
    assert "on /dev/vdb with a GPT partition table" in en["pool-disk"].feedback and "vdb1" in en["pool-disk"].feedback
    assert "the LVM volume group lab5-vg on /dev/vdc" in en["pool-logical"].feedback
    snap = en["snap-lvm"].feedback
    assert "LVM snapshot of /dev/lab5-vg/data" in snap
    assert "its capacity is the origin's (256.0 MiB)" in snap and "64.0 MiB of copy-on-write space" in snap
    assert "storage-level snapshot" in snap and "raw included" in snap and "virsh snapshot-list" in snap
    assert "image-level snapshot (qcow2) lives inside the image file" in snap
    assert "the zpool lab5-zfs on /dev/vdd" in en["pool-zfs"].feedback and "zfs rollback" in en["pool-zfs"].feedback
    assert "instantánea a nivel de almacenamiento" in es["snap-lvm"].feedback
    assert "raw incluido" in es["snap-lvm"].feedback and "dentro del fichero de imagen" in es["snap-lvm"].feedback


@needs_capture
def test_what_libvirt_reports_for_an_lvm_snapshot():
    """The facts snap-lvm relies on, as the VM host's libvirt reported them."""
    pool = evidence("solved").host().pool("lab5-vg")
    data, snap = pool.volumes["data"].view, pool.volumes["data-snap"].view
    assert snap.backing_path == data.path == "/dev/lab5-vg/data"
    assert snap.capacity == data.capacity == 256 * 2**20
    assert snap.allocation == 64 * 2**20
    assert pool.view.source_name == "lab5-vg" and pool.view.source_devices == ["/dev/vdc"]
    assert evidence("solved").host().pool("lab5-disk").view.source_format == "gpt"


@needs_capture
@pytest.mark.parametrize("case, exercise, phrase_en, phrase_es", [
    ("snap-plain-volume", "snap-lvm", "A snapshot shares its blocks with its origin",
     "Una instantánea comparte sus bloques con su origen"),
    ("snap-full-size", "snap-lvm", "as much as a full copy", "tanto como una copia completa"),
    ("snap-of-another-volume", "snap-lvm", "is a snapshot of /dev/lab5-vg/other, not of 'data'",
     "es una instantánea de /dev/lab5-vg/other, no de 'data'"),
    ("disk-dos", "pool-disk", "has partition-table format 'dos', not 'gpt'",
     "tiene el formato de tabla de particiones 'dos', no 'gpt'"),
    ("disk-defined-only", "pool-disk", "'unrecognized, requires build'", "'unrecognized, requires build'"),
    ("disk-transient", "pool-disk", "Pool 'lab5-disk' exists but is transient",
     "El grupo de almacenamiento 'lab5-disk' existe pero es transitorio"),
    ("disk-system-disk", "pool-disk", "is on /dev/vda, the name a host's own system disk normally has",
     "está sobre /dev/vda, el nombre que suele tener el disco del propio sistema"),
    ("vg-other-name", "pool-logical", "works on volume group 'vg0', not on one named lab5-vg",
     "trabaja sobre el grupo de volúmenes 'vg0'"),
    ("vg-transient", "pool-logical", "Pool 'lab5-vg' exists but is transient", "es transitorio"),
    ("data-128m", "pool-logical", "'data' holds 128.0 MiB, not 256 MiB", "'data' tiene 128.0 MiB, no 256 MiB"),
    ("zfs-built-not-started", "pool-zfs", "is defined (zpool lab5-zfs) but not active",
     "está definido (zpool lab5-zfs) pero no está activo"),
    ("zfs-no-zvol", "pool-zfs", "holds no volume 'vol1'", "no contiene ningún volumen 'vol1'"),
])
def test_each_captured_wrong_state_scores_zero_with_its_lesson(case, exercise, phrase_en, phrase_es):
    en, es = graded(evidence(case))[exercise], graded(evidence(case), "es")[exercise]
    assert en.score == 0
    assert phrase_en in en.feedback and phrase_es in es.feedback



@pytest.mark.parametrize("path, disk, system", [
    ("/dev/vdb", "/dev/vdb", False), ("/dev/vdb1", "/dev/vdb", False), ("/dev/sda3", "/dev/sda", True),
    ("/dev/nvme0n1", "/dev/nvme0n1", True), ("/dev/nvme1n1p2", "/dev/nvme1n1", False),
    ("/dev/loop0", "/dev/loop0", False), ("/dev/loop0p1", "/dev/loop0", False),
    ("/dev/mmcblk0p1", "/dev/mmcblk0", True), ("/dev/xvda1", "/dev/xvda", True),
])
def test_a_device_path_and_its_disk(path, disk, system):
    assert disk_of(path) == disk and is_system_disk(path) is system


def test_partitions_are_named_as_libvirt_names_them():
    assert [partition_name(d, 1) for d in ("/dev/vdb", "/dev/nvme1n1", "/dev/loop3")] == ["vdb1", "nvme1n1p1", "loop3p1"]


@pytest.mark.parametrize("option, env, disks", [
    (None, {}, ("/dev/vdb", "/dev/vdc", "/dev/vdd")),
    (None, {"LAB_DISKS": " "}, ("/dev/vdb", "/dev/vdc", "/dev/vdd")),
    (None, {"LAB_DISKS": "/dev/sdb /dev/sdc /dev/sdd"}, ("/dev/sdb", "/dev/sdc", "/dev/sdd")),
    ("/dev/loop1,/dev/loop2,/dev/loop3", {"LAB_DISKS": "/dev/sdb /dev/sdc /dev/sdd"},
     ("/dev/loop1", "/dev/loop2", "/dev/loop3")),
])
def test_spare_disks_come_from_the_option_then_lab_disks(option, env, disks):
    assert spare_disks(option, env) == disks


@pytest.mark.parametrize("option, env, message", [
    (None, {"LAB_DISKS": "/dev/vdb /dev/vdc"}, "LAB_DISKS names 2 distinct device(s) (/dev/vdb /dev/vdc): lab5 needs three"),
    ("/dev/vdb /dev/vdb /dev/vdc", {}, "--disks names 2 distinct device(s)"),
    (None, {"LAB_DISKS": "vdb vdc vdd"}, "LAB_DISKS names 'vdb', which is not a device path"),
    ("/dev/vdb;reboot /dev/vdc /dev/vdd", {}, "--disks names '/dev/vdb;reboot', which is not a device path"),
])
def test_wrong_spare_disks_are_one_line_that_says_what_to_give(option, env, message):
    with pytest.raises(UsageError) as raised:
        spare_disks(option, env)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
