"""What a grade rests on (docs/trust.md, issue 18), end to end on real light lab hosts.

Each forgery the issue names is staged with plain `virsh` as a student types it (and, for a
look-alike mount, a command inside the host's mount namespace), then graded by the installed
`grade` in English and Spanish: it earns what docs/trust.md says, and the feedback names the
missing fact and the intended way, without a word of how to fake it. Beside each, the honest
path on the same hosts earns full marks; so do the other honest ways (the Python API,
virt-manager's own calls) and the honest work after a restart of the host's libvirtd alone.

Each state is made once, in a module-scoped fixture that starts from `lab start` and records what
its tests assert, so the tests read records and run in any order.
"""
from __future__ import annotations

import shlex
import tempfile
import threading
from pathlib import Path

import libvirt
import pytest
from lxml import etree

from grader.labhosts.config import Settings
from labs.lab3 import solution as lab3_solution
from labs.lab4 import solution as lab4_solution
from labs.lab4.names import LIVE_NS

from restarthelp import restart_light
from trusthelp import (check_full, check_reads, environment, exported, grade, in_namespace,
                       lab_finish, lab_start, mounted_at, unmount_all, virsh)

pytestmark = pytest.mark.labhost

LAB3_POOL_DIR = "/var/lib/libvirt/lab3"
OVERLAY = f"{LAB3_POOL_DIR}/lab3-raw.ext-1"
LAB1_SHARED = "/var/lib/libvirt/lab1-shared"
LAB4_SHARED = "/var/lib/libvirt/lab4-shared"
MARKER = "kvm-storage-lab.marker"


@pytest.fixture(scope="module")
def hosts(labhosts):
    """The lab hosts' URIs and environment; afterwards no lab of this module is left on them,
    and no look-alike mount (lab4's pool on the export would block other labs' pools)."""
    env = environment(labhosts.env)
    a, b = labhosts.uri("a"), labhosts.uri("b")
    yield {"env": env, "A": a, "B": b}
    lab_finish("lab1", {"A": a}, env, check=False)
    lab_finish("lab3", {"A": a}, env, check=False)
    lab_finish("lab4", {"A": a, "B": b}, env, check=False)
    unmount_all(a, env, LAB1_SHARED)
    unmount_all(b, env, LAB4_SHARED)


def _volume_facts(env, uri: str, pool: str) -> dict[str, str]:
    """`virsh -r vol-list` of a pool: what libvirt lists there now."""
    return {line.split()[0]: line.split()[-1] for line in
            virsh(env, uri, "-r", "vol-list", pool).splitlines() if line.strip()}


# --- lab3 ---------------------------------------------------------------------------------------

def _snapshot_xml(domain_xml: str, name: str, state: str, parent: str | None = None,
                  memory: str = "no", disk: str = "<disk name='vda' snapshot='internal'/>",
                  when: int = 0) -> str:
    """Snapshot XML written by hand, with the domain's definition inside (libvirt refuses a
    redefinition without one: "missing domain in snapshot")."""
    parent_xml = f"<parent><name>{parent}</name></parent>" if parent else ""
    return (f"<domainsnapshot><name>{name}</name><state>{state}</state>{parent_xml}"
            f"<creationTime>{1700000000 + when}</creationTime><memory snapshot='{memory}'/>"
            f"<disks>{disk}</disks>{domain_xml}</domainsnapshot>")


def forge_lab3(env, uri: str, tmp: Path) -> None:
    """(a) The tree written with `virsh snapshot-create DOMAIN FILE.xml --redefine [--current]`
    (clean shut off; live-1 running, internal memory, parent clean; branch-b current), and ext-1
    of lab3-raw redefined with the domain defined onto an overlay path that does not exist."""
    vm_xml = virsh(env, uri, "dumpxml", "--inactive", "lab3-vm")
    tree = [("clean", "shutoff", None, "no"), ("live-1", "running", "clean", "internal"),
            ("branch-b", "shutoff", "clean", "no")]
    for when, (name, state, parent, memory) in enumerate(tree, 1):
        path = tmp / f"{name}.xml"
        path.write_text(_snapshot_xml(vm_xml, name, state, parent, memory, when=when))
        virsh(env, uri, "snapshot-create", "lab3-vm", str(path), "--redefine",
              *(["--current"] if name == "branch-b" else []))
    raw_xml = virsh(env, uri, "dumpxml", "--inactive", "lab3-raw")
    disk = (f"<disk name='vda' snapshot='external' type='file'><driver type='qcow2'/>"
            f"<source file='{OVERLAY}'/></disk>")
    (tmp / "ext-1.xml").write_text(_snapshot_xml(raw_xml, "ext-1", "disk-snapshot", disk=disk, when=4))
    (tmp / "raw.xml").write_text(raw_xml.replace(f"{LAB3_POOL_DIR}/lab3-raw.img", OVERLAY)
                                 .replace("type='raw'", "type='qcow2'"))
    virsh(env, uri, "define", str(tmp / "raw.xml"))
    virsh(env, uri, "snapshot-create", "lab3-raw", str(tmp / "ext-1.xml"), "--redefine", "--current")


LAB3_VIRSH = [
    ("snapshot-create-as", "lab3-vm", "clean"),
    ("start", "lab3-vm"),
    ("snapshot-create-as", "lab3-vm", "live-1"),
    ("snapshot-revert", "lab3-vm", "clean"),
    ("snapshot-create-as", "lab3-vm", "branch-b"),
    ("snapshot-create-as", "lab3-raw", "ext-1", "--disk-only", "--atomic"),
]


def _claims(env, uri: str) -> dict:
    """What the snapshot XML claims (the level a forgery reaches), read-only."""
    return {"snapshots": virsh(env, uri, "-r", "snapshot-list", "lab3-vm", "--name").split(),
            "parents": {name: virsh(env, uri, "-r", "snapshot-parent", "lab3-vm", name).strip()
                        for name in ("live-1", "branch-b")},
            "current": virsh(env, uri, "-r", "snapshot-current", "lab3-vm", "--name").strip(),
            "raw current": virsh(env, uri, "-r", "snapshot-current", "lab3-raw", "--name").strip(),
            "raw disk": virsh(env, uri, "-r", "domblklist", "lab3-raw")}


@pytest.fixture(scope="module")
def lab3_states(hosts):
    """On host A: the forged tree graded; then, after `lab start`, the same lab done with virsh
    graded; then only A's libvirtd restarted and graded again."""
    env, uri = hosts["env"], hosts["A"]
    roles = {"A": uri}
    out = {}
    lab_start("lab3", roles, env)
    with tempfile.TemporaryDirectory() as tmp:
        forge_lab3(env, uri, Path(tmp))
    out["forged claims"] = _claims(env, uri)
    out["forged"] = grade("lab3", roles, env)
    lab_start("lab3", roles, env)
    for command in LAB3_VIRSH:
        virsh(env, uri, *command)
    out["honest"] = grade("lab3", roles, env)
    out["listed before restart"] = _volume_facts(env, uri, "lab3")
    out["pids"] = restart_light(Settings.from_env(env), _host_name(uri, env))
    out["listed after restart"] = _volume_facts(env, uri, "lab3")
    out["overlay xml"] = virsh(env, uri, "-r", "vol-dumpxml", OVERLAY)
    out["restarted"] = grade("lab3", roles, env)
    return out


def _host_name(uri: str, env) -> str:
    from grader.labhosts import daemons

    settings = Settings.from_env(env)
    return next(n for n in daemons.known(settings) if settings.uri(n) == uri)


LAB3_FORGED = {
    "snap-offline": (["clean-not-in-image"],
                     {"en": ("lab3-vm.qcow2 holds no snapshot", "`virsh snapshot-create-as lab3-vm clean`"),
                      "es": ("lab3-vm.qcow2 no guarda ninguna instantánea",
                             "`virsh snapshot-create-as lab3-vm clean`")}),
    "snap-live": (["live-memory-not-in-image"],
                  {"en": ("its memory state is not in lab3-vm.qcow2", "with the machine running",
                          "`virsh snapshot-create-as lab3-vm live-1`"),
                   "es": ("su estado de memoria no está en lab3-vm.qcow2", "con la máquina en marcha",
                          "`virsh snapshot-create-as lab3-vm live-1`")}),
    "snap-revert": (["tree-not-in-image"],
                    {"en": ("lab3-vm.qcow2 holds no snapshot", "`virsh snapshot-revert`"),
                     "es": ("lab3-vm.qcow2 no guarda ninguna instantánea", "`virsh snapshot-revert`")}),
    "snap-external": (["ext-overlay-missing"],
                      {"en": ("libvirt cannot open that file",
                              "`virsh snapshot-create-as lab3-raw ext-1 --disk-only --atomic`"),
                       "es": ("libvirt no puede abrir ese fichero",
                              "`virsh snapshot-create-as lab3-raw ext-1 --disk-only --atomic`")}),
}


@pytest.mark.parametrize("exercise", sorted(LAB3_FORGED))
def test_lab3_tree_written_by_hand_earns_nothing_and_says_what_is_missing(lab3_states, exercise):
    keys, phrases = LAB3_FORGED[exercise]
    check_reads(lab3_states["forged"], exercise, 0, keys, phrases)


def test_lab3_forgery_reached_libvirt_as_a_real_tree_would(lab3_states):
    """The claims a forgery makes are all there: what fails it is only what libvirt derives."""
    claims = lab3_states["forged claims"]
    assert sorted(claims["snapshots"]) == ["branch-b", "clean", "live-1"]
    assert claims["parents"] == {"live-1": "clean", "branch-b": "clean"}
    assert claims["current"] == "branch-b" and claims["raw current"] == "ext-1"
    assert OVERLAY in claims["raw disk"]


def test_lab3_done_with_virsh_beside_the_forgery_earns_full_marks(lab3_states):
    check_full(lab3_states["honest"], 10)
    assert lab3_states["honest"].keys("snap-external") == ["ext-ok"]


def test_lab3_keeps_full_marks_after_a_restart_of_libvirtd_alone(lab3_states):
    old, new = lab3_states["pids"]
    assert old != new
    # the restart refreshed pool lab3: the overlay is listed now, its backing file probed
    assert "lab3-raw.ext-1" not in lab3_states["listed before restart"]
    assert "lab3-raw.ext-1" in lab3_states["listed after restart"]
    assert f"<path>{LAB3_POOL_DIR}/lab3-raw.img</path>" in lab3_states["overlay xml"]
    check_full(lab3_states["restarted"], 10)
    assert lab3_states["restarted"].keys("snap-external") == ["ext-ok"]


@pytest.fixture(scope="module")
def lab3_api(hosts):
    """lab3 done with the Python API (the reference solution)."""
    env, uri = hosts["env"], hosts["A"]
    lab_start("lab3", {"A": uri}, env)
    lab3_solution.solve(uri)
    return grade("lab3", {"A": uri}, env)


def test_lab3_done_with_the_python_api_earns_full_marks(lab3_api):
    check_full(lab3_api, 10)


#: What virt-manager sends for a new snapshot with its defaults (virtinst.DomainSnapshot with a
#: name and no description, get_xml()), with flags 0: libvirt makes it internal, with the memory
#: state when the domain runs. virt-manager 4.1 (Debian 12) takes internal snapshots only;
#: virt-manager 5 sends the same XML with DISK_ONLY for an external one of a shut-off domain,
#: where libvirt's capabilities offer <externalSnapshot/> (libvirt 9.0 does not: there a
#: student takes ext-1 with virsh).
VIRT_MANAGER_SNAPSHOT = "<domainsnapshot>\n  <name>{name}</name>\n</domainsnapshot>\n"


def virt_manager_lab3(uri: str) -> None:
    """lab3 as virt-manager does it (virtManager/details/snapshots.py, object/domain.py): the
    snapshot dialog's XML, Run (create), Revert (revertToSnapshot, flags 0)."""
    conn = libvirt.open(uri)
    try:
        vm, raw = conn.lookupByName("lab3-vm"), conn.lookupByName("lab3-raw")
        vm.snapshotCreateXML(VIRT_MANAGER_SNAPSHOT.format(name="clean"), 0)
        vm.create()
        vm.snapshotCreateXML(VIRT_MANAGER_SNAPSHOT.format(name="live-1"), 0)
        vm.revertToSnapshot(vm.snapshotLookupByName("clean", 0))
        vm.snapshotCreateXML(VIRT_MANAGER_SNAPSHOT.format(name="branch-b"), 0)
        raw.snapshotCreateXML(VIRT_MANAGER_SNAPSHOT.format(name="ext-1"),
                              libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def lab3_virt_manager(hosts):
    env, uri = hosts["env"], hosts["A"]
    lab_start("lab3", {"A": uri}, env)
    virt_manager_lab3(uri)
    return {"graded": grade("lab3", {"A": uri}, env),
            "live-1": virsh(env, uri, "-r", "snapshot-dumpxml", "lab3-vm", "live-1")}


def test_lab3_done_as_virt_manager_does_it_earns_full_marks(lab3_virt_manager):
    assert "<memory snapshot='internal'/>" in lab3_virt_manager["live-1"]
    check_full(lab3_virt_manager["graded"], 10)


# --- lab4 ---------------------------------------------------------------------------------------

def _lab4(hosts) -> dict[str, str]:
    return {"A": hosts["A"], "B": hosts["B"]}


def local_pool_on_b(env, b: str) -> None:
    virsh(env, b, "pool-define-as", "lab4-local", "dir", "--target", "/var/lib/libvirt/lab4-local")
    virsh(env, b, "pool-build", "lab4-local")
    virsh(env, b, "pool-start", "lab4-local")


def shared_pool_on_b(env, a: str, b: str, tmp: Path) -> None:
    """B's lab4-shared from A's definition, started (virsh builds the mount point)."""
    (tmp / "shared.xml").write_text(virsh(env, a, "pool-dumpxml", "lab4-shared"))
    virsh(env, b, "pool-define", str(tmp / "shared.xml"))
    virsh(env, b, "pool-start", "lab4-shared", "--build")


def forge_lab4_cold_and_live(env, a: str, b: str, tmp: Path) -> None:
    """(c) lab4-cold's definition moved to B onto a blank 128 MiB qcow2 in a local pool of B;
    (b) lab4-live's inactive XML copied to B and started there, with the live-only marker set
    by hand (`virsh metadata --live`) with the nonce A's running domain showed."""
    local_pool_on_b(env, b)
    virsh(env, b, "vol-create-as", "lab4-local", "lab4-cold.qcow2", "128M", "--format", "qcow2")
    (tmp / "cold.xml").write_text(virsh(env, a, "dumpxml", "--inactive", "lab4-cold"))
    virsh(env, b, "define", str(tmp / "cold.xml"))
    virsh(env, a, "undefine", "lab4-cold")
    shared_pool_on_b(env, a, b, tmp)
    nonce = etree.fromstring(virsh(env, a, "dumpxml", "lab4-live").encode()).find(
        f"metadata/{{{LIVE_NS}}}live").get("nonce")
    (tmp / "live.xml").write_text(virsh(env, a, "dumpxml", "--inactive", "lab4-live"))
    virsh(env, a, "destroy", "lab4-live")
    virsh(env, a, "undefine", "lab4-live")
    virsh(env, b, "define", str(tmp / "live.xml"))
    virsh(env, b, "start", "lab4-live")
    virsh(env, b, "metadata", "lab4-live", "--live", LIVE_NS, "--key", "live",
          "--set", f"<live nonce='{nonce}'/>")


def forge_lab4_shared(env, a: str, b: str, tmp: Path) -> None:
    """(d) A local file system mounted on B's lab4-shared under the export's name, inside B's
    mount namespace, then A's pool definition started on B: libvirt takes it as mounted."""
    source = virsh(env, a, "pool-dumpxml", "lab4-shared")
    host = source.split("<host name='", 1)[1].split("'", 1)[0]
    folder = source.split("<dir path='", 1)[1].split("'", 1)[0]
    in_namespace(b, env, "mkdir", "-p", LAB4_SHARED)
    in_namespace(b, env, "mount", "-t", "tmpfs", f"{host}:{folder}", LAB4_SHARED)
    (tmp / "shared.xml").write_text(source)
    virsh(env, b, "pool-define", str(tmp / "shared.xml"))
    virsh(env, b, "pool-start", "lab4-shared")


def honest_lab4_virsh(env, a: str, b: str, tmp: Path) -> None:
    """lab4 with virsh: the disk copied with vol-download/vol-upload, A's pool definition on
    B, and `virsh migrate --live --persistent --undefinesource` (LAB_MIGRATE_FLAGS: loopback)."""
    local_pool_on_b(env, b)
    copy = tmp / "lab4-cold.qcow2"
    virsh(env, a, "vol-download", "--pool", "lab4-local", "lab4-cold.qcow2", str(copy))
    virsh(env, b, "vol-create-as", "lab4-local", "lab4-cold.qcow2", "128M", "--format", "qcow2")
    virsh(env, b, "vol-upload", "--pool", "lab4-local", "lab4-cold.qcow2", str(copy))
    (tmp / "cold.xml").write_text(virsh(env, a, "dumpxml", "--inactive", "lab4-cold"))
    virsh(env, b, "define", str(tmp / "cold.xml"))
    virsh(env, a, "undefine", "lab4-cold")
    shared_pool_on_b(env, a, b, tmp)
    virsh(env, a, "migrate", "--live", "--persistent", "--undefinesource", "lab4-live", b,
          *shlex.split(env.get("LAB_MIGRATE_FLAGS", "")))


def _domstate(env, uri: str, name: str) -> str:
    return virsh(env, uri, "-r", "domstate", "--reason", name).strip()


def _qemu_pid(env, uri: str, name: str) -> str:
    """The pid of a running domain's QEMU, from libvirt's pid file in the host's /run/libvirt."""
    return in_namespace(uri, env, "cat", f"/run/libvirt/qemu/{name}.pid").stdout.strip()


@pytest.fixture(scope="module")
def lab4_states(hosts):
    """On hosts A and B: the cold and live forgeries graded; after `lab start`, the look-alike
    shared pool graded; after `lab start`, lab4 done with virsh graded, then only B's libvirtd
    restarted (lab4-live keeps running on B) and graded again."""
    env, a, b = hosts["env"], hosts["A"], hosts["B"]
    roles = _lab4(hosts)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        lab_start("lab4", roles, env)
        forge_lab4_cold_and_live(env, a, b, Path(tmp))
        out["live marker"] = virsh(env, b, "-r", "metadata", "lab4-live", "--live", LIVE_NS)
        out["forged state"] = _domstate(env, b, "lab4-live")
        out["forged"] = grade("lab4", roles, env)
    with tempfile.TemporaryDirectory() as tmp:
        lab_start("lab4", roles, env)
        assert not mounted_at(b, env, LAB4_SHARED), "lab start left a mount on B's lab4-shared"
        forge_lab4_shared(env, a, b, Path(tmp))
        out["look-alike mounts"] = mounted_at(b, env, LAB4_SHARED)
        out["look-alike"] = grade("lab4", roles, env)
    with tempfile.TemporaryDirectory() as tmp:
        lab_start("lab4", roles, env)
        out["mounted after start"] = mounted_at(b, env, LAB4_SHARED)
        honest_lab4_virsh(env, a, b, Path(tmp))
    out["honest"] = grade("lab4", roles, env)
    out["qemu before"] = _qemu_pid(env, b, "lab4-live")
    out["pids"] = restart_light(Settings.from_env(env), _host_name(b, env))
    out["qemu after"] = _qemu_pid(env, b, "lab4-live")
    out["state after"] = _domstate(env, b, "lab4-live")
    out["restarted"] = grade("lab4", roles, env)
    return out


def test_lab4_live_marker_set_by_hand_on_a_started_domain_earns_half(lab4_states):
    assert "nonce=" in lab4_states["live marker"]            # the claim is there, on B
    assert lab4_states["forged state"] == "running (booted)"
    check_reads(lab4_states["forged"], "live-migrate", 2, ["live-cold-move"], {
        "en": ("state reason: booted", "not that it arrived by a live migration",
               "`virsh migrate --live --persistent --undefinesource lab4-live URI_OF_B`"),
        "es": ("motivo de estado: booted", "no que llegara por una migración en caliente",
               "`virsh migrate --live --persistent --undefinesource lab4-live URI_DE_B`")})


def test_lab4_cold_move_onto_a_blank_disk_earns_half(lab4_states):
    check_reads(lab4_states["forged"], "cold-migrate", 2, ["cold-disk-blank"], {
        "en": ("that disk does not hold lab4-cold's data", "`virsh vol-download` on A",
               "`virsh vol-upload` on B"),
        "es": ("ese disco no contiene los datos de lab4-cold", "`virsh vol-download` en A",
               "`virsh vol-upload` en B")})


def test_lab4_forgeries_leave_the_honest_shared_pool_its_marks(lab4_states):
    assert lab4_states["forged"].scores()["shared-pool"] == 2


def test_lab4_look_alike_mount_on_b_earns_half(lab4_states):
    assert any(" tmpfs " in line for line in lab4_states["look-alike mounts"])
    check_reads(lab4_states["look-alike"], "shared-pool", 1, ["shared-not-the-export"], {
        "en": ("it does not show the files the export holds", "`virsh pool-refresh lab4-shared` on B",
               "`virsh pool-start lab4-shared` on B"),
        "es": ("no muestra los ficheros que contiene la exportación",
               "`virsh pool-refresh lab4-shared` en B", "`virsh pool-start lab4-shared` en B")})


def test_lab4_done_with_virsh_beside_the_forgeries_earns_full_marks(lab4_states):
    assert lab4_states["mounted after start"] == []          # the look-alike is gone
    check_full(lab4_states["honest"], 10)
    assert lab4_states["honest"].keys("live-migrate") == ["live-ok"]


def test_lab4_keeps_full_marks_after_a_restart_of_b_libvirtd_alone(lab4_states):
    old, new = lab4_states["pids"]
    assert old != new
    assert lab4_states["qemu before"] == lab4_states["qemu after"]     # lab4-live kept running
    assert lab4_states["state after"] == "running (migrated)"
    check_full(lab4_states["restarted"], 10)
    assert lab4_states["restarted"].keys("live-migrate") == ["live-ok"]


@pytest.fixture(scope="module")
def lab4_api(hosts):
    env, roles = hosts["env"], _lab4(hosts)
    lab_start("lab4", roles, env)
    with exported(env):
        lab4_solution.solve(hosts["A"], hosts["B"])
    return grade("lab4", roles, env)


def test_lab4_done_with_the_python_api_earns_full_marks(lab4_api):
    check_full(lab4_api, 10)


#: The flags virt-manager's Migrate dialog uses with its defaults (virtManager/object/domain.py
#: migrate(): live, not "temporary" so persistent on B and undefined on A, no tunnel, not unsafe).
VIRT_MANAGER_MIGRATE = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PERSIST_DEST
                        | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)


def virt_manager_migrate(a_uri: str, b_uri: str, env) -> int:
    """lab4-live migrated as virt-manager does: migrate3 with its flags, and with the address
    typed under "Advanced options" as its migration URI (`tcp:ADDRESS`, loopback here), while a
    thread polls the job's progress every 0.5 s as its progress bar does. virt-manager sets no
    listen address; the light hosts add LAB_MIGRATE_FLAGS' (loopback) so that B's QEMU listens on
    this machine only. Returns how many progress polls saw the job running."""
    a, b = libvirt.open(a_uri), libvirt.open(b_uri)
    try:
        dom = a.lookupByName("lab4-live")
        params = {libvirt.VIR_MIGRATE_PARAM_URI: "tcp:127.0.0.1"}
        listen = lab4_solution.params_from_flags(env.get("LAB_MIGRATE_FLAGS", ""))
        if libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS in listen:
            params[libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS] = listen[libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS]
        done, polls = threading.Event(), []

        def progress():
            while not done.wait(0.5):
                try:
                    info = dom.jobInfo()
                except libvirt.libvirtError:
                    return
                if info[3]:         # data total: the job has started
                    polls.append(info)

        watcher = threading.Thread(target=progress, daemon=True)
        watcher.start()
        try:
            dom.migrate3(b, params, VIRT_MANAGER_MIGRATE)
        finally:
            done.set()
            watcher.join()
        return len(polls)
    finally:
        a.close()
        b.close()


@pytest.fixture(scope="module")
def lab4_virt_manager(hosts):
    env, roles = hosts["env"], _lab4(hosts)
    lab_start("lab4", roles, env)
    a, b = libvirt.open(hosts["A"]), libvirt.open(hosts["B"])
    try:
        lab4_solution.cold_migrate(a, b)
        lab4_solution.shared_pool(a, b)
    finally:
        a.close()
        b.close()
    virt_manager_migrate(hosts["A"], hosts["B"], env)
    return {"graded": grade("lab4", roles, env), "state": _domstate(env, hosts["B"], "lab4-live")}


def test_lab4_migrated_with_virt_managers_flags_earns_full_marks(lab4_virt_manager):
    assert lab4_virt_manager["state"] == "running (migrated)"
    check_full(lab4_virt_manager["graded"], 10)


# --- lab1 ---------------------------------------------------------------------------------------

def _netfs_pool(env, uri: str) -> None:
    virsh(env, uri, "pool-define-as", "lab1-shared", "netfs", "--source-host", env["LAB_SHARE_HOST"],
          "--source-path", env["LAB_SHARE_PATH"], "--source-format", env["LAB_SHARE_FORMAT"],
          "--target", LAB1_SHARED)


@pytest.fixture(scope="module")
def lab1_states(hosts):
    """On host A: lab1-shared started on a look-alike mount (graded), then with a file named like
    the course's marker made in it (graded); after `lab start`, lab1 done with virsh (graded)."""
    env, uri = hosts["env"], hosts["A"]
    out = {}
    lab_start("lab1", {"A": uri}, env)
    assert not mounted_at(uri, env, LAB1_SHARED), "lab start left a mount on lab1-shared"
    in_namespace(uri, env, "mkdir", "-p", LAB1_SHARED)
    in_namespace(uri, env, "mount", "-t", "tmpfs", f"{env['LAB_SHARE_HOST']}:{env['LAB_SHARE_PATH']}",
                 LAB1_SHARED)
    _netfs_pool(env, uri)
    virsh(env, uri, "pool-start", "lab1-shared")
    out["look-alike"] = grade("lab1", {"A": uri}, env)
    in_namespace(uri, env, "touch", f"{LAB1_SHARED}/{MARKER}")
    virsh(env, uri, "pool-refresh", "lab1-shared")
    out["listed"] = virsh(env, uri, "-r", "vol-list", "lab1-shared")
    out["look-alike with marker"] = grade("lab1", {"A": uri}, env)
    lab_start("lab1", {"A": uri}, env)
    out["mounted after start"] = mounted_at(uri, env, LAB1_SHARED)
    virsh(env, uri, "pool-define-as", "lab1-dir", "dir", "--target", "/var/lib/libvirt/lab1-dir")
    virsh(env, uri, "pool-build", "lab1-dir")
    virsh(env, uri, "pool-start", "lab1-dir")
    virsh(env, uri, "pool-autostart", "lab1-dir")
    _netfs_pool(env, uri)
    virsh(env, uri, "pool-build", "lab1-shared")
    virsh(env, uri, "pool-start", "lab1-shared")
    host, _, port = env["LAB_ISCSI_HOST"].partition(":")
    with tempfile.TemporaryDirectory() as tmp:     # pool-define-as has no port option
        iscsi = Path(tmp) / "iscsi.xml"
        iscsi.write_text(f"<pool type='iscsi-direct'><name>lab1-iscsi</name><source>"
                         f"<host name='{host}' port='{port or 3260}'/>"
                         f"<device path='{env['LAB_ISCSI_TARGET']}'/><initiator>"
                         f"<iqn name='{env['LAB_ISCSI_INITIATOR']}'/></initiator></source></pool>")
        virsh(env, uri, "pool-define", str(iscsi))
    virsh(env, uri, "pool-start", "lab1-iscsi")
    virsh(env, uri, "vol-create-as", "lab1-dir", "disk1.qcow2", "1G", "--format", "qcow2")
    out["honest"] = grade("lab1", {"A": uri}, env)
    without = {k: v for k, v in env.items() if k != "LAB_SHARE_MARKER"}
    out["honest, no reference"] = grade("lab1", {"A": uri}, without)
    return out


NO_MARKER = {"en": ("it does not list the file kvm-storage-lab.marker that the course's export holds",
                    "`virsh pool-refresh lab1-shared`", "`virsh pool-start lab1-shared`"),
             "es": ("no muestra el fichero kvm-storage-lab.marker que contiene la exportación del curso",
                    "`virsh pool-refresh lab1-shared`", "`virsh pool-start lab1-shared`")}
OTHER_MARKER = {"en": ("not the one on the course's export", "the pool shows a local directory",
                       "`virsh pool-start lab1-shared`"),
                "es": ("no el de la exportación del curso", "el grupo muestra un directorio local",
                       "`virsh pool-start lab1-shared`")}


def test_lab1_netfs_pool_on_a_look_alike_mount_earns_half(lab1_states):
    check_reads(lab1_states["look-alike"], "pool-netfs", 1, ["shared-no-marker"], NO_MARKER)


def test_lab1_look_alike_with_a_file_named_like_the_marker_earns_half(lab1_states):
    assert MARKER in lab1_states["listed"]
    check_reads(lab1_states["look-alike with marker"], "pool-netfs", 1, ["shared-other-marker"], OTHER_MARKER)


def test_lab1_done_with_virsh_beside_the_look_alike_earns_full_marks(lab1_states):
    assert lab1_states["mounted after start"] == []
    check_full(lab1_states["honest"], 10)


def test_lab1_honest_netfs_pool_without_the_markers_reference_earns_half_saying_why(lab1_states):
    """docs/trust.md: without a reference the grader cannot tell, and says so (to instructors)."""
    check_reads(lab1_states["honest, no reference"], "pool-netfs", 1, ["shared-unverified"], {
        "en": ("the grader was not given the course's share marker", "`share_marker`"),
        "es": ("el corrector no recibió la marca del recurso compartido del curso", "`share_marker`")})
