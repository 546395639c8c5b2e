"""provision on libvirt's test driver: resetting a lab tolerates what students leave behind, and
deletes by place, never by name alone (a pool of the lab's name elsewhere is refused)."""
import libvirt
import pytest

from grader import provision
from grader.errors import UsageError

MiB = 2**20


def _volumes(conn, name: str) -> list[str]:
    pool = provision.find_pool(conn, name)
    pool.refresh(0)
    return sorted(pool.listVolumes())


def test_remove_pool_removes_a_transient_pool():
    conn = libvirt.open("test:///default")
    conn.storagePoolCreateXML(provision.pool_xml("t-transient", "dir", "/t-transient"), 0)
    provision.remove_pool(conn, "t-transient", provision.Place("dir", "/t-transient"))
    assert provision.find_pool(conn, "t-transient") is None


def test_remove_pool_undefines_a_persistent_inactive_pool():
    conn = libvirt.open("test:///default")
    conn.storagePoolDefineXML(provision.pool_xml("t-defined", "dir", "/t-defined"), 0)
    provision.remove_pool(conn, "t-defined", provision.Place("dir", "/t-defined/"))  # same place
    assert provision.find_pool(conn, "t-defined") is None


def test_a_pool_of_the_labs_name_elsewhere_is_refused_and_keeps_its_files(token):
    """One line naming the pool and where it is, and the pool as it was."""
    conn = libvirt.open("test:///default")
    name = f"t-lab-{token}"
    pool = provision.define_pool(conn, name, "dir", "/srv/images")
    provision.create_volume(pool, "theirs.qcow2", "qcow2", MiB)
    place = provision.Place("dir", "/var/lib/libvirt/t-lab")
    try:
        for attempt in (lambda: provision.remove_pool(conn, name, place),
                        lambda: provision.define_pool(conn, name, "dir", place.path),
                        lambda: provision.check_places(conn, {name: place})):
            with pytest.raises(UsageError) as refused:
                attempt()
            message = str(refused.value)
            assert "\n" not in message
            assert message.startswith(f"pool {name} on test:///default is a dir pool at /srv/images, "
                                      "not the dir pool at /var/lib/libvirt/t-lab that the lab makes, "
                                      "so nothing was deleted")
            assert f"virsh pool-undefine {name}" in message
            assert pool.isActive() and pool.isPersistent() and _volumes(conn, name) == ["theirs.qcow2"]
    finally:
        provision.remove_pool(conn, name, provision.Place("dir", "/srv/images"))


def test_another_kind_of_pool_on_the_labs_directory_is_not_refused(token):
    """An export mounted on the lab's directory is at the lab's place: it is stopped and undefined
    (its files stay on the export: tests/test_lab_places.py, on a real one)."""
    conn = libvirt.open("test:///default")
    name, target = f"t-lab-{token}", "/var/lib/libvirt/t-lab"
    pool = provision.define_pool(conn, name, "netfs", target, {"host": "nfs.example", "dir": "/export",
                                                               "format": "nfs"})
    provision.create_volume(pool, "theirs.qcow2", "qcow2", MiB)
    place = provision.Place("dir", target)
    provision.check_places(conn, {name: place})
    provision.remove_pool(conn, name, place)
    assert provision.find_pool(conn, name) is None


def test_check_places_passes_a_missing_pool_and_one_at_its_place(token):
    conn = libvirt.open("test:///default")
    name = f"t-lab-{token}"
    provision.check_places(conn, {name: provision.Place("dir", "/var/lib/libvirt/t-lab")})
    pool = provision.define_pool(conn, name, "dir", "/var/lib/libvirt//t-lab/")
    provision.create_volume(pool, "lab.qcow2", "qcow2", MiB)
    provision.check_places(conn, {name: provision.Place("dir", "/var/lib/libvirt/t-lab")})
    provision.remove_pool(conn, name, provision.Place("dir", "/var/lib/libvirt/t-lab"))
    assert provision.find_pool(conn, name) is None


def test_host_text_in_the_refusal_is_printable(token):
    """The target path is the student's text: a bidirectional override in it (which makes a line
    read differently from what it holds) reaches the terminal as letters."""
    conn = libvirt.open("test:///default")
    name, target = f"t-lab-{token}", "/srv/\u202eexe.txt"
    conn.storagePoolDefineXML(f"<pool type='dir'><name>{name}</name><target><path>/srv/&#x202e;exe.txt"
                              "</path></target></pool>", 0)
    try:
        with pytest.raises(UsageError) as refused:
            provision.check_places(conn, {name: provision.Place("dir", "/var/lib/libvirt/t-lab")})
        assert "\u202e" not in str(refused.value) and "/srv/\\u202eexe.txt" in str(refused.value)
    finally:
        provision.remove_pool(conn, name, provision.Place("dir", target))
