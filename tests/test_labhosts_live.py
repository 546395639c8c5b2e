"""Real lab hosts a and b: isolation, domains, live migration over each kind of shared storage.

Everything a test creates is named `t-...-<token>` and removed afterwards; shared pools that
already exist on a host (a lab may have defined one on the same source) are reused, not removed.
"""
from __future__ import annotations

import re

import libvirt
import pytest
from lxml import etree

from grader.labhosts.config import Settings
from grader.labhosts.kvm import domain_type
from migratehelp import (MIGRATE_FLAGS, dir_pool, domain_xml, file_disk, migrate, remove_domain,
                         shared_pool, start_domain)

pytestmark = pytest.mark.labhost

#: Hosts share one machine: name loopback for QEMU's migration stream on both ends.
MIGRATE_PARAMS = {libvirt.VIR_MIGRATE_PARAM_URI: "tcp://127.0.0.1",
                  libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: "127.0.0.1"}
TEST_LUN = 2  # LUN 1 is the labs'; tests only ever use LUN 2


def gluster_pool_xml(env, name: str) -> str:
    return f"""<pool type='netfs'><name>{name}</name>
  <source><host name='{env["LAB_SHARE_HOST"]}'/><dir path='{env["LAB_SHARE_PATH"]}'/>
    <format type='{env["LAB_SHARE_FORMAT"]}'/></source>
  <target><path>/var/lib/libvirt/{name}</path></target></pool>"""


def iscsi_pool_xml(env, name: str) -> str:
    host, _, port = env["LAB_ISCSI_HOST"].partition(":")
    return f"""<pool type='iscsi-direct'><name>{name}</name>
  <source><host name='{host}' port='{port or 3260}'/><device path='{env["LAB_ISCSI_TARGET"]}'/>
    <initiator><iqn name='{env["LAB_ISCSI_INITIATOR"]}'/></initiator></source></pool>"""


# ---------------------------------------------------------------- isolation


def test_hosts_have_different_uuids_and_separate_state(labhosts, connect, cleanup, token):
    a, b = connect(labhosts.uri("a")), connect(labhosts.uri("b"))
    uuid = lambda c: etree.fromstring(c.getCapabilities().encode()).findtext("host/uuid")
    assert uuid(a) != uuid(b)
    name = f"t-iso-{token}"
    a.storagePoolDefineXML(f"<pool type='dir'><name>{name}</name>"
                           f"<target><path>/var/lib/libvirt/{name}</path></target></pool>")
    cleanup(lambda: a.storagePoolLookupByName(name).undefine())
    assert name in a.listDefinedStoragePools()
    assert name not in a.listStoragePools() + b.listDefinedStoragePools() + b.listStoragePools()


def test_lab_hosts_env_matches_the_api(labhosts):
    assert labhosts.env["LIBVIRT_DEFAULT_URI"] == labhosts.uri("a")
    pki = re.escape(str(Settings.from_env().pki_dir))
    assert re.fullmatch(rf"qemu\+tls://127\.0\.0\.1:\d+/system\?pkipath={pki}", labhosts.uri("b"))
    assert labhosts.env["LAB_SHARE_FORMAT"] == "glusterfs"
    assert labhosts.env["LAB_ISCSI_TARGET"].startswith("iqn.")


@pytest.mark.parametrize("host", ["a", "b"])
def test_a_domain_starts_on_each_host(labhosts, connect, cleanup, token, host):
    conn = connect(labhosts.uri(host))
    name = f"t-dom-{token}"
    pool = dir_pool(conn, name, cleanup)
    vol = pool.createXML(f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>64</capacity>"
                         "<target><format type='qcow2'/></target></volume>")
    dom = start_domain(conn, domain_xml(conn, name, file_disk(vol.path())), cleanup)
    assert dom.isActive()
    assert etree.fromstring(dom.XMLDesc().encode()).get("type") == domain_type(conn)


# ---------------------------------------------------------------- migration


def test_live_migration_over_glusterfs(labhosts, connect, cleanup, token):
    a, b = connect(labhosts.uri("a")), connect(labhosts.uri("b"))
    name = f"t-mig-gl-{token}"
    pool_a = shared_pool(a, gluster_pool_xml(labhosts.env, "t-gluster"), cleanup)
    pool_b = shared_pool(b, gluster_pool_xml(labhosts.env, "t-gluster"), cleanup)
    vol = pool_a.createXML(f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>64"
                           "</capacity><target><format type='qcow2'/></target></volume>")
    cleanup(lambda: vol.delete())
    pool_b.refresh()  # each host keeps its own list of a shared pool's volumes
    path_b = pool_b.storageVolLookupByName(f"{name}.qcow2").path()

    dom = start_domain(a, domain_xml(a, name, file_disk(vol.path())), cleanup)
    cleanup(lambda: remove_domain(b, name))
    seconds = migrate(dom, b, MIGRATE_PARAMS, [(f"'{vol.path()}'", f"'{path_b}'")])

    assert b.lookupByName(name).isActive()
    assert name not in [d.name() for d in a.listAllDomains()]
    print(f"glusterfs live migration: {seconds:.2f} s")


def test_live_migration_over_iscsi_direct(labhosts, connect, cleanup, token):
    a, b = connect(labhosts.uri("a")), connect(labhosts.uri("b"))
    name = f"t-mig-is-{token}"
    pool_a = shared_pool(a, iscsi_pool_xml(labhosts.env, "t-iscsi"), cleanup)
    pool_b = shared_pool(b, iscsi_pool_xml(labhosts.env, "t-iscsi"), cleanup)
    lun = f"unit:0:0:{TEST_LUN}"
    assert lun in pool_a.listVolumes() and lun in pool_b.listVolumes()
    disk = (f"<disk type='volume' device='disk'><driver name='qemu' type='raw'/>"
            f"<source pool='{pool_a.name()}' volume='{lun}'/>"
            "<target dev='vda' bus='virtio'/></disk>")
    dom = start_domain(a, domain_xml(a, name, disk), cleanup)
    cleanup(lambda: remove_domain(b, name))
    seconds = migrate(dom, b, MIGRATE_PARAMS, [(f"pool='{pool_a.name()}'", f"pool='{pool_b.name()}'")])

    assert b.lookupByName(name).isActive()
    print(f"iscsi-direct live migration: {seconds:.2f} s")


def test_migration_without_shared_storage_is_refused(labhosts, connect, cleanup, token):
    a, b = connect(labhosts.uri("a")), connect(labhosts.uri("b"))
    name = f"t-unsafe-{token}"
    pool = dir_pool(a, name, cleanup)
    vol = pool.createXML(f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>64</capacity>"
                         "<target><format type='qcow2'/></target></volume>")
    dom = start_domain(a, domain_xml(a, name, file_disk(vol.path())), cleanup)
    cleanup(lambda: remove_domain(b, name))

    with pytest.raises(libvirt.libvirtError, match="Unsafe migration"):
        dom.migrate3(b, MIGRATE_PARAMS, MIGRATE_FLAGS)
    assert dom.isActive()
