"""What a grade rests on (docs/trust.md), on VM hosts: their own kernels, lab4-shared on NFS
between two hosts (A exports /srv/share and mounts it too, B mounts it over the link).

Honest work keeps full marks there: lab3 and lab4 done with the reference solutions (on VM
hosts LAB_MIGRATE_FLAGS is empty, so the live migration is migrate3 with virt-manager's own
flags and no parameters, as its dialog sends it with its defaults); lab4 again after
`systemctl restart libvirtd` on B. Two NFS clients cache a file's attributes (acregmin 3 s to
acregmax 60 s by default), so the ctime lab4's shared-pool compares is read from A and B right
after the migration, and for a minute after, beside the server's own.
"""
from __future__ import annotations

import threading
import time

import libvirt
import pytest
from lxml import etree

from labs.lab3 import solution as lab3_solution
from labs.lab4 import solution as lab4_solution

from restarthelp import restart_vm
from trusthelp import check_full, environment, exported, grade, lab_finish, lab_start

pytestmark = [pytest.mark.labhost, pytest.mark.slow]

SHARE = "/srv/share"            # grader.labhosts.vm.SHARE_PATH on the storage host, A
FILES = ("lab4-live.qcow2", "kvm-storage-lab.marker")
#: How long to watch the ctimes after the migration: past NFS's default acregmax (60 s).
WATCH_SECONDS = 65


@pytest.fixture(scope="module")
def vm(vmhosts):
    env = environment(vmhosts.env)
    roles = {"A": vmhosts.uri("a"), "B": vmhosts.uri("b")}
    yield {"env": env, "roles": roles, "hosts": vmhosts}
    lab_finish("lab3", {"A": roles["A"]}, env, check=False)
    lab_finish("lab4", roles, env, check=False)


@pytest.fixture(scope="module")
def vm_lab3(vm):
    roles = {"A": vm["roles"]["A"]}
    lab_start("lab3", roles, vm["env"])
    lab3_solution.solve(roles["A"])
    return grade("lab3", roles, vm["env"])


def test_lab3_done_with_the_python_api_on_vm_hosts_earns_full_marks(vm_lab3):
    check_full(vm_lab3, 10)


def _ctimes(conns: dict) -> dict[str, dict[str, str]]:
    """libvirt's ctime of each file of lab4-shared, as A's and B's pools list it (read-only; a
    volume's XML is re-stat'ed at each call, through each host's NFS client)."""
    out = {}
    for role, conn in conns.items():
        pool = conn.storagePoolLookupByName("lab4-shared")
        out[role] = {name: etree.fromstring(pool.storageVolLookupByName(name).XMLDesc(0).encode())
                     .findtext("target/timestamps/ctime") for name in FILES}
    return out


def _watch(readers: dict, started: float, timeline: list) -> None:
    """Both hosts' ctimes about every second, from the migration's end for WATCH_SECONDS."""
    while (seconds := time.monotonic() - started) < WATCH_SECONDS:
        timeline.append((round(seconds, 1), _ctimes(readers)))
        time.sleep(1)


def _server_ctime(vmhosts, name: str) -> str:
    """The ctime on the exported file system itself (on A, not through NFS)."""
    done = vmhosts.run("a", f"stat -c '%Z %z' {SHARE}/{name}")
    assert done.returncode == 0, done.stderr
    seconds, _, human = done.stdout.strip().partition(" ")
    fraction = human.split(" ")[1].partition(".")[2]
    return f"{seconds}.{fraction}"


def _qemu_pid(vmhosts, name: str) -> str:
    done = vmhosts.run(name, "cat /run/libvirt/qemu/lab4-live.pid")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _domstate(uri: str) -> tuple[int, int]:
    conn = libvirt.openReadOnly(uri)
    try:
        return tuple(conn.lookupByName("lab4-live").state(0))
    finally:
        conn.close()


@pytest.fixture(scope="module")
def vm_lab4(vm):
    """lab4 with the solution on NFS; graded right after the live migration (with and without
    the share marker's reference) while the ctimes are watched for a minute; then B's libvirtd
    restarted with systemctl and graded again."""
    env, roles, vmhosts = vm["env"], vm["roles"], vm["hosts"]
    no_marker = {k: v for k, v in env.items() if k != "LAB_SHARE_MARKER"}
    lab_start("lab4", roles, env)
    a, b = libvirt.open(roles["A"]), libvirt.open(roles["B"])
    readers = {role: libvirt.openReadOnly(uri) for role, uri in roles.items()}
    out = {"timeline": []}
    try:
        lab4_solution.cold_migrate(a, b)
        lab4_solution.shared_pool(a, b)
        out["before"] = _ctimes(readers)
        out["params"] = lab4_solution.migration_params(roles["B"], env)
        with exported(env):         # LAB_MIGRATE_FLAGS, as in a notebook after `lab hosts env`
            lab4_solution.live_migrate(a, b)
        started = time.monotonic()
        watcher = threading.Thread(target=_watch, args=(readers, started, out["timeline"]))
        watcher.start()             # while the grader reads the same files right away
        try:
            out["graded right after"] = grade("lab4", roles, env, table=False)
            out["graded right after, no marker"] = grade("lab4", roles, no_marker, table=False,
                                                         langs=("en",))
            out["server right after"] = _server_ctime(vmhosts, FILES[0])
        finally:
            watcher.join()
        out["server after"] = _server_ctime(vmhosts, FILES[0])
    finally:
        for conn in (a, b, *readers.values()):
            conn.close()
    out["graded"] = grade("lab4", roles, env)
    out["qemu before"] = _qemu_pid(vmhosts, "b")
    restart_vm(vmhosts, "b")
    out["qemu after"] = _qemu_pid(vmhosts, "b")
    out["state after"] = _domstate(roles["B"])
    out["restarted"] = grade("lab4", roles, env)
    return out


def test_lab4_on_nfs_earns_full_marks_right_after_the_migration(vm_lab4):
    assert vm_lab4["params"] == {}        # virt-manager's default: libvirt picks B's address
    for key in ("graded right after", "graded"):
        check_full(vm_lab4[key], 10)
        assert vm_lab4[key].keys("shared-pool") == ["shared-ok"], vm_lab4[key].summary()
    assert vm_lab4["graded right after, no marker"].full("en"), vm_lab4["graded right after, no marker"].summary()


def test_both_nfs_clients_report_the_servers_ctime_of_the_live_disk(vm_lab4):
    """The ctime shared-pool compares, seen from A and B: equal right after the migration and
    for a minute after, and equal to the server's own."""
    timeline = vm_lab4["timeline"]
    assert timeline[0][0] < 1 and timeline[-1][0] > 60, timeline
    before = vm_lab4["before"]
    print(f"\nctime of lab4-live.qcow2 before the migration: {before['A'][FILES[0]]} / "
          f"{before['B'][FILES[0]]}; after it (s: A / B), the server's then "
          f"{vm_lab4['server right after']}, and at the end {vm_lab4['server after']}:")
    for seconds, seen in timeline:
        print(f"  {seconds:5.1f}: {seen['A'][FILES[0]]} / {seen['B'][FILES[0]]}")
    differ = [(s, seen["A"][FILES[0]], seen["B"][FILES[0]]) for s, seen in timeline
              if seen["A"][FILES[0]] != seen["B"][FILES[0]]]
    assert not differ, f"A and B disagree on lab4-live.qcow2's ctime: {differ}"
    assert timeline[-1][1]["A"][FILES[0]] == vm_lab4["server after"]
    for seconds, seen in timeline:
        assert seen["A"][FILES[1]] == seen["B"][FILES[1]], (seconds, seen)


def test_lab4_keeps_full_marks_after_systemctl_restart_libvirtd_on_b(vm_lab4):
    assert vm_lab4["qemu before"] == vm_lab4["qemu after"]          # lab4-live kept running
    assert vm_lab4["state after"] == (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_MIGRATED)
    check_full(vm_lab4["restarted"], 10)
    assert vm_lab4["restarted"].keys("live-migrate") == ["live-ok"]
