"""The grader reads the XML of every pool type the seed names, including the ones this machine
cannot run (nfs, kernel iscsi, logical, zfs, disk on a real disk, gluster): source device, host,
adapter, format, as libvirt's documentation writes them (formatstorage.html)."""
from __future__ import annotations

import pytest

from grader.core.xmlmodel import PoolXml

POOLS = {
    "dir": """<pool type='dir'><name>images</name>
        <capacity unit='bytes'>270553174016</capacity><allocation unit='bytes'>25762910208</allocation>
        <available unit='bytes'>244790263808</available>
        <source></source><target><path>/var/lib/libvirt/images</path></target></pool>""",
    "fs": """<pool type='fs'><name>fs</name>
        <source><device path='/dev/VolGroup00/VirtImages'/><format type='ext4'/></source>
        <target><path>/var/lib/virt/images</path></target></pool>""",
    "netfs-nfs": """<pool type='netfs'><name>nfs</name>
        <capacity unit='G'>100</capacity><allocation unit='G'>40</allocation><available unit='G'>60</available>
        <source><host name='nfs.example.com'/><dir path='/var/lib/virt/images'/><format type='nfs'/>
          <protocol ver='4'/></source>
        <target><path>/var/lib/virt/images</path></target></pool>""",
    "netfs-glusterfs": """<pool type='netfs'><name>shared</name>
        <source><host name='vm'/><dir path='/labshare'/><format type='glusterfs'/></source>
        <target><path>/var/lib/libvirt/lab1-shared</path></target></pool>""",
    "disk": """<pool type='disk'><name>sda</name>
        <source><device path='/dev/sda'/><format type='gpt'/></source>
        <target><path>/dev</path></target></pool>""",
    "iscsi": """<pool type='iscsi'><name>virtimages</name>
        <source><host name='iscsi.example.com' port='3260'/>
          <device path='iqn.2013-06.com.example:iscsi-pool'/>
          <initiator><iqn name='iqn.2013-06.com.example:iscsi-initiator'/></initiator>
          <auth type='chap' username='myuser'><secret usage='libvirtiscsi'/></auth></source>
        <target><path>/dev/disk/by-path</path></target></pool>""",
    "iscsi-direct": """<pool type='iscsi-direct'><name>iscsi-direct-pool</name>
        <source><host name='127.0.0.1' port='18600'/><device path='iqn.2024-01.lab.kvm-storage:share'/>
          <initiator><iqn name='iqn.2024-01.lab.kvm-storage:initiator'/></initiator></source></pool>""",
    "logical": """<pool type='logical'><name>HostVG</name>
        <source><device path='/dev/sda1'/><device path='/dev/sdb1'/><name>HostVG</name>
          <format type='lvm2'/></source>
        <target><path>/dev/HostVG</path></target></pool>""",
    "zfs": """<pool type='zfs'><name>myzfspool</name>
        <source><name>zpoolname</name><device path='/dev/ada1'/><device path='/dev/ada2'/></source></pool>""",
    "gluster": """<pool type='gluster'><name>myglusterpool</name>
        <source><name>volname</name><host name='localhost'/><dir path='/'/></source></pool>""",
    "scsi-host": """<pool type='scsi'><name>virtimages</name>
        <source><adapter type='scsi_host' name='host0'/></source>
        <target><path>/dev/disk/by-path</path></target></pool>""",
    "scsi-fc": """<pool type='scsi'><name>vhba</name>
        <source><adapter type='fc_host' parent='scsi_host5' wwnn='20000000c9831b4b'
          wwpn='10000000c9831b4b'/></source>
        <target><path>/dev/disk/by-path</path></target></pool>""",
}

#: What the grader must read from each: field -> value (every PoolXml field appears at least once).
EXPECTED = {
    "dir": {"type": "dir", "name": "images", "target_path": "/var/lib/libvirt/images",
            "capacity": 270553174016, "allocation": 25762910208, "available": 244790263808,
            "source_host": None, "source_device": None, "source_format": None},
    "fs": {"type": "fs", "source_device": "/dev/VolGroup00/VirtImages", "source_format": "ext4"},
    "netfs-nfs": {"type": "netfs", "source_host": "nfs.example.com", "source_dir": "/var/lib/virt/images",
                  "source_format": "nfs", "source_protocol_ver": "4",
                  "capacity": 100 * 2**30, "allocation": 40 * 2**30, "available": 60 * 2**30},
    "netfs-glusterfs": {"type": "netfs", "source_host": "vm", "source_dir": "/labshare",
                        "source_format": "glusterfs", "target_path": "/var/lib/libvirt/lab1-shared"},
    "disk": {"type": "disk", "source_device": "/dev/sda", "source_devices": ["/dev/sda"],
             "source_format": "gpt", "target_path": "/dev"},
    "iscsi": {"type": "iscsi", "source_host": "iscsi.example.com", "source_hosts": ["iscsi.example.com"],
              "source_port": 3260, "source_device": "iqn.2013-06.com.example:iscsi-pool",
              "initiator_iqn": "iqn.2013-06.com.example:iscsi-initiator",
              "source_auth_type": "chap", "source_auth_username": "myuser",
              "target_path": "/dev/disk/by-path"},
    "iscsi-direct": {"type": "iscsi-direct", "source_host": "127.0.0.1", "source_port": 18600,
                     "source_device": "iqn.2024-01.lab.kvm-storage:share",
                     "initiator_iqn": "iqn.2024-01.lab.kvm-storage:initiator", "target_path": None},
    "logical": {"type": "logical", "source_devices": ["/dev/sda1", "/dev/sdb1"], "source_device": "/dev/sda1",
                "source_name": "HostVG", "source_format": "lvm2", "target_path": "/dev/HostVG"},
    "zfs": {"type": "zfs", "source_name": "zpoolname", "source_devices": ["/dev/ada1", "/dev/ada2"],
            "target_path": None},
    "gluster": {"type": "gluster", "source_name": "volname", "source_host": "localhost", "source_dir": "/"},
    "scsi-host": {"type": "scsi", "source_adapter_type": "scsi_host", "source_adapter_name": "host0"},
    "scsi-fc": {"type": "scsi", "source_adapter_type": "fc_host", "source_adapter_parent": "scsi_host5",
                "source_adapter_wwnn": "20000000c9831b4b", "source_adapter_wwpn": "10000000c9831b4b"},
}


@pytest.mark.parametrize("kind", sorted(POOLS))
def test_pool_xml_fields(kind):
    view = PoolXml(POOLS[kind])
    for field, value in EXPECTED[kind].items():
        assert getattr(view, field) == value, f"{kind}: {field}"


def test_every_pool_type_the_seed_names_is_covered():
    seed = {"dir", "netfs", "disk", "iscsi", "iscsi-direct", "logical", "zfs", "gluster"}
    assert seed <= {PoolXml(xml).type for xml in POOLS.values()}
    assert {PoolXml(POOLS[k]).source_format for k in ("netfs-nfs", "netfs-glusterfs")} == {"nfs", "glusterfs"}


def test_every_source_field_is_exercised():
    fields = {name for name in vars(PoolXml) if name.startswith(("source_", "initiator", "target"))
              and name != "source_signature"}
    exercised = {f for expected in EXPECTED.values() for f in expected}
    assert fields <= exercised, f"never asserted: {sorted(fields - exercised)}"


def test_source_signature_tells_two_exports_apart():
    nfs, gluster = PoolXml(POOLS["netfs-nfs"]), PoolXml(POOLS["netfs-glusterfs"])
    assert nfs.source_signature != gluster.source_signature
    assert gluster.source_signature == {"host": "vm", "dir": "/labshare", "device": None, "name": None,
                                        "format": "glusterfs"}
