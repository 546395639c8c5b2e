"""`lab start` and `lab finish` delete by place, not by name, on real lab hosts: for each lab, a
pool of the lab's name on another directory holding someone else's image is refused with one line
naming the pool and its path, and nothing changes on any host (grader.provision.Place).

Each case first prepares the lab as usual (so there is something a careless finish would remove
first: lab3's and lab4's domains), then moves the lab's pool aside (undefined, its files left
where they are) and puts the foreign pool in its name. Afterwards the foreign pool goes, the lab's
pool is defined again where it belongs and `lab finish` removes what the lab made.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import libvirt
import pytest
from click.testing import CliRunner

from grader.cli.environment import Environment
from grader.cli.main import lab
from grader.provision import pool_xml

pytestmark = pytest.mark.labhost

MiB = 2**20

#: lab, the role whose pool is replaced, the pool, the kind of pool the lab makes and where, the
#: foreign image's name (on lab4's shared export the lab deletes its own names, lab4-*: a foreign
#: lab4-live.qcow2 elsewhere must survive too).
CASES = [
    ("lab1", "A", "lab1-dir", "dir", "/var/lib/libvirt/lab1-dir", "theirs.qcow2"),
    ("lab2", "A", "lab2", "dir", "/var/lib/libvirt/lab2", "theirs.qcow2"),
    ("lab3", "A", "lab3", "dir", "/var/lib/libvirt/lab3", "theirs.qcow2"),
    ("lab4", "A", "lab4-local", "dir", "/var/lib/libvirt/lab4-local", "theirs.qcow2"),
    ("lab4", "B", "lab4-shared", "netfs", "/var/lib/libvirt/lab4-shared", "lab4-live.qcow2"),
]


def run_lab(env: dict, *args: str) -> tuple[int, str]:
    """`lab ARGS` with the lab hosts' environment: (exit status, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    environment = Environment(env={**env, "LANG": "C"}, cwd=Path.cwd(),
                              stdout=out, stderr=err)
    result = CliRunner().invoke(lab, list(args), obj=environment, catch_exceptions=False)
    return result.exit_code, err.getvalue()


def roles_of(lab_id: str) -> str:
    return "AB" if lab_id == "lab4" else "A"


def arguments(lab_id: str, env: dict) -> tuple[list[str], list[str]]:
    """The lab's --host options, and `lab start`'s own options (lab4's --share)."""
    hosts = [arg for role in roles_of(lab_id) for arg in ("--host", f"{role}={env[f'LAB_URI_{role}']}")]
    if lab_id == "lab4":
        return hosts, ["--share", f"{env['LAB_SHARE_FORMAT']}://{env['LAB_SHARE_HOST']}{env['LAB_SHARE_PATH']}"]
    return hosts, []


def host_state(uri: str) -> dict[str, str]:
    """Every pool (definition, state, volumes) and every domain (state) of a host; not the sizes,
    which follow the free space of a disk other processes write to."""
    conn = libvirt.openReadOnly(uri)
    try:
        out = {}
        for pool in conn.listAllStoragePools(0):
            volumes = sorted(pool.listVolumes()) if pool.isActive() else None
            xml = re.sub(r"<(capacity|allocation|available)\b.*?</\1>", "", pool.XMLDesc(0))
            out[f"pool {pool.name()}"] = f"{xml} active={pool.isActive()} volumes={volumes}"
        for dom in conn.listAllDomains(0):
            out[f"domain {dom.name()}"] = f"{dom.state(0)[0]} persistent={dom.isPersistent()}"
        return out
    finally:
        conn.close()


@pytest.fixture(params=CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def refused(request, labhosts, token):
    lab_id, role, name, kind, path, image = request.param
    env = labhosts.env
    hosts, share = arguments(lab_id, env)
    status, err = run_lab(env, "start", lab_id, *hosts, *share)
    assert status == 0, err
    conn = libvirt.open(env[f"LAB_URI_{role}"])
    foreign = f"/var/lib/libvirt/t-foreign-{token}"
    moved = False
    try:
        own = _lookup(conn, name)
        if own is not None:                 # aside: undefined, its files stay at its path
            if own.isActive():
                own.destroy()
            own.undefine()
            moved = True
        pool = conn.storagePoolDefineXML(pool_xml(name, "dir", foreign), 0)
        pool.build(0)
        pool.create(0)
        pool.createXML(f"<volume><name>{image}</name><capacity>{MiB}</capacity>"
                       "<target><format type='qcow2'/></target></volume>", 0)
        uris = [env[f"LAB_URI_{r}"] for r in roles_of(lab_id)]
        before = {uri: host_state(uri) for uri in uris}
        runs = {"start": run_lab(env, "start", lab_id, *hosts, *share),
                "finish": run_lab(env, "finish", lab_id, *hosts)}
        after = {uri: host_state(uri) for uri in uris}
        pool.refresh(0)
        yield {"runs": runs, "unchanged": before == after, "volumes": pool.listVolumes(), "image": image,
               "line": f"pool {name} on {env[f'LAB_URI_{role}']} is a dir pool at {foreign}, "
                       f"not the {kind} pool at {path} that the lab makes, so nothing was deleted"}
    finally:
        _delete_pool(conn, name)
        if moved:                           # back where the lab makes it, for its finish
            conn.storagePoolDefineXML(pool_xml(name, "dir", path), 0)
        conn.close()
        status, err = run_lab(env, "finish", lab_id, *hosts)
        assert status == 0, err


def _lookup(conn, name: str):
    try:
        return conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        return None


def _delete_pool(conn, name: str) -> None:
    """The test's foreign pool, with its image and directory."""
    pool = _lookup(conn, name)
    if pool is None:
        return
    if not pool.isActive():
        pool.create(0)
    for vol in pool.listAllVolumes(0):
        vol.delete(0)
    pool.destroy()
    pool.delete(0)
    pool.undefine()


def test_a_pool_of_the_labs_name_elsewhere_is_refused_and_nothing_changes(refused):
    for action, (status, err) in refused["runs"].items():
        assert status == 2, (action, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {refused['line']}"), (action, err)
    assert refused["unchanged"]
    assert refused["volumes"] == [refused["image"]]


def test_an_export_mounted_on_the_labs_directory_keeps_its_files(labhosts, token):
    """A `lab2` of another kind on lab2's own directory (the course's export mounted there) is at
    the lab's place but not what the lab makes: `lab start` stops and undefines it and makes its
    own, and the export keeps every file (seen through another pool on the same export)."""
    env = labhosts.env
    uri = env["LAB_URI_A"]
    source = {"host": env["LAB_SHARE_HOST"], "dir": env["LAB_SHARE_PATH"], "format": env["LAB_SHARE_FORMAT"]}
    image, look = f"t-theirs-{token}.qcow2", f"t-look-{token}"
    conn = libvirt.open(uri)
    try:
        run_lab(env, "finish", "lab2", "--host", f"A={uri}")
        pool = conn.storagePoolDefineXML(pool_xml("lab2", "netfs", "/var/lib/libvirt/lab2", source), 0)
        pool.build(0)
        pool.create(0)
        pool.createXML(f"<volume><name>{image}</name><capacity>{MiB}</capacity>"
                       "<target><format type='qcow2'/></target></volume>", 0)
        status, err = run_lab(env, "start", "lab2", "--host", f"A={uri}")
        assert status == 0, err
        lab2 = conn.storagePoolLookupByName("lab2")
        assert "type='dir'" in lab2.XMLDesc(0) and lab2.listVolumes() == []
        status, err = run_lab(env, "finish", "lab2", "--host", f"A={uri}")
        assert status == 0, err
        other = conn.storagePoolDefineXML(pool_xml(look, "netfs", f"/var/lib/libvirt/{look}", source), 0)
        other.build(0)
        other.create(0)
        other.refresh(0)
        assert image in other.listVolumes()
    finally:
        for name in (look, "lab2"):
            pool = _lookup(conn, name)
            if pool is not None and not pool.isActive():
                pool.create(0)
            if pool is not None:
                pool.refresh(0)
                if image in pool.listVolumes():
                    pool.storageVolLookupByName(image).delete(0)
                pool.destroy()
                pool.undefine()
        conn.close()
        run_lab(env, "finish", "lab2", "--host", f"A={uri}")
