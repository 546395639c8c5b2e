"""provision on libvirt's test driver: resetting a lab tolerates what students leave behind."""
import libvirt

from grader import provision


def test_remove_pool_removes_a_transient_pool():
    conn = libvirt.open("test:///default")
    conn.storagePoolCreateXML(provision.pool_xml("t-transient", "dir", "/t-transient"), 0)
    provision.remove_pool(conn, "t-transient")
    assert provision.find_pool(conn, "t-transient") is None


def test_remove_pool_undefines_a_persistent_inactive_pool():
    conn = libvirt.open("test:///default")
    conn.storagePoolDefineXML(provision.pool_xml("t-defined", "dir", "/t-defined"), 0)
    provision.remove_pool(conn, "t-defined")
    assert provision.find_pool(conn, "t-defined") is None
