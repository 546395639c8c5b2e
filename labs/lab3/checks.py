"""lab3 checks: the snapshot tree of `lab3-vm` and the external snapshot of `lab3-raw`.

Each check reads the snapshot XML libvirt keeps (state at the time, memory kind, disk kind,
parent) and the current snapshot; feedback names what is wrong and how to fix it. Every
condition the curriculum lists is required: a condition missed scores 0 (the curriculum gives no
partial credit in lab3), and the feedback says which one.

Snapshot XML is a claim (`snapshot-create --redefine` writes any), so full marks also need what
libvirt probes from the files (docs/trust.md): internal snapshots live in lab3-vm.qcow2, which
grows by each one and by the memory state of a running one; an external snapshot's overlay is a
file libvirt can open, a qcow2 of the raw image's size whose backing file, where libvirt reports
it, is lab3-raw.img.
"""
from __future__ import annotations

from grader.core.checks import check, fail, passed, prepared_domain, size
from grader.core.evidence import Evidence, VolumeEvidence

from .names import (BRANCH, CLEAN, EXTERNAL, LIVE, POOL, RAW, RAW_VOLUME, VM, VM_VOLUME)

#: lab3-vm.qcow2 as `lab start` makes it is 192 KiB long (196616 bytes); each internal snapshot
#: adds at least 64 KiB (its tables), so a file of 256 KiB or more holds one (measured: 327750
#: bytes with `clean` alone).
SNAPSHOT_IN_IMAGE = 256 * 1024
#: A running snapshot stores the domain's memory state in the image: at least 792 KiB allocated
#: after an honest lab (12 runs, virsh and the API, KVM and TCG), against at most 212 KiB with
#: the three snapshots taken shut off, and 196 KiB for a tree written by hand.
MEMORY_IN_IMAGE = 512 * 1024


def _snapshot(ev: Evidence, domain: str, name: str, missing: str = "snapshot-missing"):
    """The prepared domain and its snapshot `name`; fails the check when either is missing."""
    dom = prepared_domain(ev, domain)
    snap = dom.snapshots.get(name)
    if snap is None:
        fail(missing, snapshot=name, domain=domain)
    return dom, snap


def _image(ev: Evidence) -> VolumeEvidence:
    """lab3-vm.qcow2 as libvirt probes it now (a listed volume's XML is re-read at every call)."""
    pool = ev.host().pool(POOL)
    if pool is None or not pool.active:
        fail("pool-not-active")
    image = pool.volumes.get(VM_VOLUME)
    if image is None:
        fail("image-missing")
    return image


def _length(image: VolumeEvidence) -> int:
    """How much of the file there is: its size, or what it allocates where that is more (a
    driver that reports no size)."""
    return max(image.view.physical or 0, image.view.allocation or 0)


@check("snap-offline")
def snap_offline(ev: Evidence):
    _, snap = _snapshot(ev, VM, CLEAN)
    view = snap.view
    if view.state != "shutoff":
        fail("clean-not-shutoff", state=view.state)
    kinds = {d.snapshot for d in view.disks if d.snapshot != "no"}
    if kinds != {"internal"}:
        fail("clean-not-internal", kinds=", ".join(sorted(k or "?" for k in kinds)) or "none")
    image = _image(ev)
    if _length(image) < SNAPSHOT_IN_IMAGE:
        fail("clean-not-in-image", size=size(_length(image)))
    return passed("clean-ok")


@check("snap-live")
def snap_live(ev: Evidence):
    _, snap = _snapshot(ev, VM, LIVE)
    view = snap.view
    if view.state == "disk-snapshot" or view.memory in (None, "no"):
        fail("live-no-memory", state=view.state)
    if view.state != "running":
        fail("live-not-running", state=view.state)
    if view.memory != "internal":
        fail("live-memory-external", memory=view.memory_file or view.memory)
    if view.parent != CLEAN:
        fail("live-wrong-parent", parent=view.parent or "none")
    image = _image(ev)
    if (image.view.allocation or 0) < MEMORY_IN_IMAGE:
        fail("live-memory-not-in-image", allocation=size(image.view.allocation))
    return passed("live-ok")


@check("snap-revert")
def snap_revert(ev: Evidence):
    dom, snap = _snapshot(ev, VM, BRANCH)
    parent = snap.view.parent
    if parent == LIVE:
        fail("revert-skipped")
    if parent != CLEAN:
        fail("branch-wrong-parent", parent=parent or "none")
    children = dom.children(CLEAN)
    if len(children) < 2:
        fail("clean-one-child", children=", ".join(children))
    if dom.current_snapshot != BRANCH:
        fail("branch-not-current", current=dom.current_snapshot or "none")
    image = _image(ev)
    if _length(image) < SNAPSHOT_IN_IMAGE:
        fail("tree-not-in-image", size=size(_length(image)))
    return passed("revert-ok")


@check("snap-external")
def snap_external(ev: Evidence):
    dom, snap = _snapshot(ev, RAW, EXTERNAL, missing="ext-missing")
    disks = [d for d in snap.view.disks if d.snapshot not in (None, "no")]
    external = [d for d in disks if d.snapshot == "external"]
    if not external:
        fail("ext-not-external")
    overlay = external[0]
    if overlay.driver_type not in (None, "qcow2"):
        fail("ext-not-qcow2", format=overlay.driver_type)
    current = next((d for d in dom.view.file_disks if d.target == overlay.name), None)
    if current is None or current.path != overlay.file:
        fail("ext-disk-not-overlay", overlay=overlay.file or "?", disk=current.path if current else "none")
    _overlay_file(ev, dom, overlay)
    backing = _probed_backing(ev, dom, overlay) or _replaced_disk(snap, overlay)
    if backing is not None and not backing.endswith("/" + RAW_VOLUME):
        fail("ext-wrong-backing", backing=backing)
    return passed("ext-ok", overlay=overlay.file)


def _overlay_file(ev: Evidence, dom, overlay) -> None:
    """The overlay is a file libvirt opens now: a qcow2 as large (for the guest) as the raw image
    it sits on, and much smaller than that on disk. Its volume says so once the pool lists it;
    until then, what libvirt probes of the domain's disk file."""
    listed = ev.host().volume_by_path(overlay.file)
    if listed is not None:
        vol = listed[1].view
        capacity, length = vol.capacity, max(vol.physical or 0, vol.allocation or 0)
        if vol.format != "qcow2":
            fail("ext-not-qcow2", format=vol.format or "?")
    else:
        info = dom.block_info.get(overlay.name)
        if info is None or "error" in info:
            fail("ext-overlay-missing", overlay=overlay.file or "?")
        capacity, length = info["capacity"], info["physical"]
    pool = ev.host().pool(POOL)
    raw = pool.volumes.get(RAW_VOLUME) if pool is not None else None
    expected = raw.view.capacity if raw is not None else None
    if capacity != expected or length >= capacity:
        fail("ext-overlay-not-a-snapshot", overlay=overlay.file or "?", capacity=size(capacity),
             physical=size(length), expected=size(expected))


def _probed_backing(ev: Evidence, dom, overlay) -> str | None:
    """The overlay's backing file where libvirt read it from the overlay itself: its volume
    (once the pool lists it: "none" when it has none) or a running domain's chain, when no chain
    was written into the definition (libvirt would then take the written one). None: no such
    record read-only (the pool not refreshed since the snapshot, the domain shut off)."""
    found = ev.host().volume_by_path(overlay.file)
    if found is not None:
        return found[1].view.backing_path or "none"
    written = dom.inactive_view and any(d.backing is not None for d in dom.inactive_view.file_disks)
    current = next((d for d in dom.view.file_disks if d.target == overlay.name), None)
    if dom.state == "running" and not written and current is not None and current.backing is not None:
        return current.backing.path
    return None


def _replaced_disk(snap, overlay) -> str | None:
    """The disk the snapshot says it replaced (its record of the domain then): a claim, so it
    can show a wrong backing file (an overlay on an overlay) but never earns the points."""
    before = snap.view.domain
    disk = next((d for d in before.file_disks if d.target == overlay.name), None) if before else None
    return disk.path if disk else None
