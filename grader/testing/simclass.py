"""A simulated class for lab3: one libvirt test-driver node XML file per student host.

Each file is a whole host (pool `lab3` with its volumes, domains `lab3-vm` and `lab3-raw`, and
their snapshots as <test:domainsnapshot> elements) in one of several states, right and wrong, so
grading a simulated class exercises every branch a real class does. Served by a libvirtd, each
file is its own host: test+unix:///ABS/PATH.xml?socket=SOCKET (see loopback.PrivateLibvirtd).

Used by bench/classbench.py and by the class-grading tests.
"""
from __future__ import annotations

import uuid
from pathlib import Path

from grader.core.xmlmodel import LAB_NS
from labs.lab3.names import POOL_PATH as POOL

#: state name -> the score lab3's checks give it (exercises: offline 2, live 3, revert 3, external 2)
STATES = {
    "right": 10,
    "clean-running": 8,        # `clean` taken while running: snap-offline fails
    "live-disk-only": 7,       # `live-1` without memory: snap-live fails
    "revert-skipped": 7,       # `branch-b` under `live-1`: snap-revert fails
    "no-external": 8,          # no `ext-1`
    "untouched": 0,            # nothing done
    "recreated": 2,            # lab3-vm re-created by hand: every lab3-vm exercise fails
}


#: What lab3-vm.qcow2 allocates in each state, as measured on real hosts (docs/trust.md): its
#: snapshots are inside it, a running one's memory state too (the test driver reports no file
#: size, so the allocation stands for both).
IMAGE_ALLOCATION = {state: 942080 for state in STATES} | {"untouched": 200704, "live-disk-only": 458752}


def _snapshot(name, state, parent=None, memory="no", disk="internal", current=False, when=0,
              disk_xml=None) -> str:
    parent_xml = f"<parent><name>{parent}</name></parent>" if parent else ""
    disks = disk_xml or f"<disks><disk name='vda' snapshot='{disk}'/></disks>"
    return (f"<test:domainsnapshot><name>{name}</name><state>{state}</state>{parent_xml}"
            f"<creationTime>{1700000000 + when}</creationTime><memory snapshot='{memory}'/>{disks}"
            f"<active>{1 if current else 0}</active>"
            "<domain type='test'><name>x</name><memory>65536</memory><os><type>hvm</type></os></domain>"
            "</test:domainsnapshot>")


def _domain(name, disk_path, fmt, snapshots, tagged=True, backing=None) -> str:
    meta = (f"<metadata><lab:lab xmlns:lab='{LAB_NS}' id='lab3' nonce='{uuid.uuid4().hex[:16]}'/></metadata>"
            if tagged else "")
    backing_xml = (f"<backingStore type='file'><format type='raw'/><source file='{backing}'/></backingStore>"
                   if backing else "")
    return (f"<domain type='test'><name>{name}</name><uuid>{uuid.uuid4()}</uuid>{meta}"
            "<memory>65536</memory><os><type>hvm</type></os><devices>"
            f"<disk type='file' device='disk'><driver name='qemu' type='{fmt}'/><source file='{disk_path}'/>"
            f"{backing_xml}<target dev='vda' bus='virtio'/></disk></devices>"
            "<test:runstate>5</test:runstate>" + "".join(snapshots) + "</domain>")


def _volume(name, fmt, capacity, allocation, backing=None) -> str:
    backing_xml = (f"<backingStore><path>{backing}</path><format type='raw'/></backingStore>"
                   if backing else "")
    return (f"<volume type='file'><name>{name}</name><capacity>{capacity}</capacity>"
            f"<allocation>{allocation}</allocation><target><path>{POOL}/{name}</path>"
            f"<format type='{fmt}'/></target>{backing_xml}</volume>")


def host_xml(state: str) -> str:
    """The node XML of one host in `state` (a key of STATES)."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    vm_snaps, raw_snaps, raw_disk, raw_backing = [], [], f"{POOL}/lab3-raw.img", None
    volumes = [_volume("lab3-vm.qcow2", "qcow2", 268435456, IMAGE_ALLOCATION[state]),
               _volume("lab3-raw.img", "raw", 67108864, 67108864)]
    if state != "untouched":
        clean_state = "running" if state == "clean-running" else "shutoff"
        clean_memory = "internal" if state == "clean-running" else "no"
        vm_snaps.append(_snapshot("clean", clean_state, memory=clean_memory, when=1))
        if state == "live-disk-only":
            vm_snaps.append(_snapshot("live-1", "disk-snapshot", "clean", memory="no", when=2))
        else:
            vm_snaps.append(_snapshot("live-1", "running", "clean", memory="internal", when=2))
        branch_parent = "live-1" if state == "revert-skipped" else "clean"
        vm_snaps.append(_snapshot("branch-b", "shutoff", branch_parent, current=True, when=3))
        if state != "no-external":
            overlay = f"{POOL}/lab3-raw.ext-1"
            raw_snaps.append(_snapshot(
                "ext-1", "shutoff", current=True, when=4,
                disk_xml=(f"<disks><disk name='vda' snapshot='external' type='file'><driver type='qcow2'/>"
                          f"<source file='{overlay}'/></disk></disks>")))
            raw_disk, raw_backing = overlay, f"{POOL}/lab3-raw.img"
            volumes.append(_volume("lab3-raw.ext-1", "qcow2", 67108864, 196608, backing=raw_backing))
    raw_fmt = "qcow2" if raw_backing else "raw"
    domains = [_domain("lab3-vm", f"{POOL}/lab3-vm.qcow2", "qcow2", vm_snaps, tagged=state != "recreated"),
               _domain("lab3-raw", raw_disk, raw_fmt, raw_snaps, backing=raw_backing)]
    return ("<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
            "<cpu><mhz>2000</mhz><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>"
            "<active>2</active></cpu><memory>4194304</memory>"
            f"<pool type='dir'><name>lab3</name><uuid>{uuid.uuid4()}</uuid><capacity>10737418240</capacity>"
            f"<allocation>67505152</allocation><available>10669913088</available>"
            f"<target><path>{POOL}</path></target>{''.join(volumes)}</pool>"
            + "".join(domains) + "</node>\n")


def state_of(index: int) -> str:
    """Most of a class gets it right; the rest spread over the wrong states."""
    names = list(STATES)
    return "right" if index % 2 == 0 else names[1 + (index // 2) % (len(names) - 1)]


def write_class(folder: Path, count: int) -> list[tuple[str, Path, str]]:
    """`count` host files under `folder`: (student, path, state) each."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        student, state = f"s{i:04d}", state_of(i)
        path = folder / f"{student}.xml"
        path.write_text(host_xml(state))
        out.append((student, path.resolve(), state))
    return out


def write_roster(path: Path, rows: list[tuple[str, str]]) -> Path:
    """A CSV roster: (student, URI) rows, role A."""
    lines = ["student,A,email"] + [f"{s},{uri},{s}@example.org" for s, uri in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def hostile_host_xml(megabytes: int) -> str:
    """A lab3 host that serves about `megabytes` MiB: lab3-vm carries `megabytes` snapshots, each
    holding a 1 MiB <description> in its domain (libvirt sends one string of at most 4 MiB, so a
    host that wants to send a lot sends it in many pieces)."""
    fat = "x" * 2**20
    snaps = [_snapshot(f"s{i}", "shutoff", when=i).replace(
        "<domain type='test'><name>x</name>", f"<domain type='test'><name>x</name><description>{fat}</description>")
        for i in range(megabytes)]
    right = host_xml("right")
    head, sep, tail = right.partition("<test:runstate>5</test:runstate>")
    return head + sep + "".join(snaps) + tail
