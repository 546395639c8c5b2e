"""Typed XML views read the fields the checks rely on, from real libvirt XML (lab3's fixtures
were captured from libvirt 9.0 with the QEMU driver)."""
from __future__ import annotations

import json

import pytest

from grader.core import labdef
from grader.core.xmlmodel import DomainXml, PoolXml, SnapshotXml, VolumeXml, _scaled

FIXTURES = labdef.DEFAULT.folder / "lab3" / "fixtures"
MiB = 2**20


def host(case: str) -> dict:
    return json.loads((FIXTURES / f"{case}.json").read_text())["hosts"]["A"]


@pytest.fixture(scope="module")
def solved():
    return host("solved")


def test_domain_fields_and_lab_metadata(solved):
    dom = DomainXml(solved["domains"]["lab3-vm"]["xml"])
    assert dom.name == "lab3-vm"
    assert dom.type in ("kvm", "qemu")
    assert len(dom.uuid) == 36
    assert dom.memory_kib == 64 * 1024
    assert dom.lab_metadata.lab == "lab3"
    assert len(dom.lab_metadata.nonce) == 16
    [disk] = dom.file_disks
    assert (disk.type, disk.device, disk.driver_type, disk.target) == ("file", "disk", "qcow2", "vda")
    assert disk.path == disk.file == "/var/lib/libvirt/lab3/lab3-vm.qcow2"
    assert disk.dev is None and disk.pool is None and disk.backing is None


def test_domain_without_metadata_has_no_lab_metadata():
    dom = DomainXml(host("vm-recreated-by-hand")["domains"]["lab3-vm"]["xml"])
    assert dom.name == "lab3-vm" and dom.lab_metadata is None


def test_running_disk_shows_its_backing_chain():
    dom = DomainXml(host("live-disk-only")["domains"]["lab3-vm"]["xml"])
    [disk] = dom.file_disks
    assert disk.file == "/var/lib/libvirt/lab3/lab3-vm.live-1"
    assert disk.backing.type == "file"
    assert disk.backing.format == "qcow2"
    assert disk.backing.path == disk.backing.file == "/var/lib/libvirt/lab3/lab3-vm.qcow2"


def test_internal_snapshots_with_and_without_memory(solved):
    snaps = solved["domains"]["lab3-vm"]["snapshots"]
    clean, live = SnapshotXml(snaps["clean"]["xml"]), SnapshotXml(snaps["live-1"]["xml"])
    assert (clean.name, clean.state, clean.parent, clean.memory) == ("clean", "shutoff", None, "no")
    assert (live.name, live.state, live.parent, live.memory) == ("live-1", "running", "clean", "internal")
    assert live.creation_time >= clean.creation_time > 1_600_000_000
    assert clean.disk("vda").snapshot == "internal" and clean.disk("vdb") is None
    assert live.domain.name == "lab3-vm" and live.domain.lab_metadata.lab == "lab3"
    assert live.memory_file is None


def test_external_snapshot_names_its_overlay(solved):
    ext = SnapshotXml(solved["domains"]["lab3-raw"]["snapshots"]["ext-1"]["xml"])
    [disk] = ext.disks
    assert (disk.name, disk.snapshot, disk.driver_type) == ("vda", "external", "qcow2")
    assert disk.file == "/var/lib/libvirt/lab3/lab3-raw.ext-1"
    assert ext.domain.file_disks[0].path == "/var/lib/libvirt/lab3/lab3-raw.img"


def test_block_and_volume_disks_as_libvirt_writes_them():
    """Block devices (LVM, partitions, LUNs) and pool volumes as disks, formatted by libvirt's own
    domain XML code (the test driver shares it with the QEMU driver)."""
    import libvirt

    conn = libvirt.open("test:///default")
    dom = conn.defineXML("""<domain type='test'><name>blk</name><memory>65536</memory>
      <os><type>hvm</type></os><devices>
      <disk type='block' device='disk'><driver name='qemu' type='qcow2'/><source dev='/dev/vg/overlay'/>
        <backingStore type='block'><format type='raw'/><source dev='/dev/vg/base'/></backingStore>
        <target dev='vda' bus='virtio'/></disk>
      <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>
        <source pool='lab4-shared' volume='lab4-live.qcow2'/><target dev='vdb'/></disk></devices></domain>""")
    block, volume = DomainXml(dom.XMLDesc(0)).file_disks
    conn.close()
    assert (block.type, block.dev, block.file, block.path) == ("block", "/dev/vg/overlay", None, "/dev/vg/overlay")
    assert (block.backing.type, block.backing.dev, block.backing.path) == ("block", "/dev/vg/base", "/dev/vg/base")
    assert (volume.type, volume.pool, volume.volume, volume.path) == ("volume", "lab4-shared", "lab4-live.qcow2", None)


def test_external_memory_names_its_file():
    snap = SnapshotXml(host("live-memory-external")["domains"]["lab3-vm"]["snapshots"]["live-1"]["xml"])
    assert (snap.state, snap.memory, snap.memory_file) == ("running", "external", "/var/lib/libvirt/lab3/live-1.mem")


def test_disk_only_snapshot_of_a_running_domain():
    snap = SnapshotXml(host("live-disk-only")["domains"]["lab3-vm"]["snapshots"]["live-1"]["xml"])
    assert snap.state == "disk-snapshot" and snap.memory == "no"
    assert snap.disk("vda").snapshot == "external"


def test_pool_fields_in_bytes(solved):
    pool = PoolXml(solved["pools"]["lab3"]["xml"])
    assert (pool.type, pool.name, pool.target_path) == ("dir", "lab3", "/var/lib/libvirt/lab3")
    assert pool.capacity >= pool.available > 0 and pool.allocation > 0
    assert pool.source_host is None and pool.source_hosts == [] and pool.source_devices == []
    assert pool.source_signature == {"host": None, "dir": None, "device": None, "name": None, "format": None}


def test_volume_fields(solved):
    vols = solved["pools"]["lab3"]["volumes"]
    qcow2, raw = VolumeXml(vols["lab3-vm.qcow2"]["xml"]), VolumeXml(vols["lab3-raw.img"]["xml"])
    assert (qcow2.name, qcow2.format, qcow2.capacity) == ("lab3-vm.qcow2", "qcow2", 256 * MiB)
    assert qcow2.allocation < qcow2.capacity            # thin: a fresh qcow2 allocates little
    assert (raw.format, raw.capacity, raw.physical) == ("raw", 64 * MiB, 64 * MiB)
    assert raw.path == raw.key == "/var/lib/libvirt/lab3/lab3-raw.img"
    assert raw.backing_path is None and raw.backing_format is None


def test_netfs_pool_source_and_overlay_volume():
    pool = PoolXml("""<pool type='netfs'><name>s</name>
      <capacity unit='GiB'>2</capacity><allocation unit='KiB'>4</allocation><available>7</available>
      <source><host name='vm'/><dir path='/labshare'/><format type='glusterfs'/></source>
      <target><path>/var/lib/libvirt/s</path></target></pool>""")
    assert pool.capacity == 2 * 2**30 and pool.allocation == 4096 and pool.available == 7
    assert pool.source_signature == {"host": "vm", "dir": "/labshare", "device": None, "name": None,
                                     "format": "glusterfs"}
    vol = VolumeXml("""<volume><name>o</name><capacity unit='G'>1</capacity>
      <target><path>/p/o</path><format type='qcow2'/></target>
      <backingStore><path>/p/base.img</path><format type='raw'/></backingStore></volume>""")
    assert (vol.capacity, vol.backing_path, vol.backing_format) == (2**30, "/p/base.img", "raw")


@pytest.mark.parametrize("value,unit,expected", [
    (5, None, 5), (5, "bytes", 5), (1, "KiB", 1024), (1, "MB", 10**6), (2, "GiB", 2 * 2**30), (None, "GiB", None),
])
def test_sizes_are_scaled_to_bytes(value, unit, expected):
    assert _scaled(value, unit) == expected


def test_a_snapshot_of_a_domain_with_254_deep_metadata_still_parses(solved):
    """libvirt accepts a <metadata> element nested 254 deep; a snapshot's XML wraps the domain
    in two more levels, past libxml2's default limit of 256 (lxml then raised XMLSyntaxError and
    a class run stopped). The views parse it and read the same fields as without it."""
    [(name, snap)] = list(solved["domains"]["lab3-vm"]["snapshots"].items())[:1]
    deep = "<metadata><d:x xmlns:d='https://example.org/deep'>" + "<a>" * 254 + "</a>" * 254 + "</d:x></metadata>"
    xml = snap["xml"].replace("</domain>", deep + "</domain>", 1)
    assert xml.count("<a>") == 254
    plain, nested = SnapshotXml(snap["xml"]), SnapshotXml(xml)
    assert (nested.name, nested.state, nested.parent) == (plain.name, plain.state, plain.parent) == (name, plain.state, plain.parent)
