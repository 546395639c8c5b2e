"""lab3 checks: the snapshot tree of `lab3-vm` and the external snapshot of `lab3-raw`.

Each check reads the snapshot XML libvirt keeps (state at the time, memory kind, disk kind,
parent) and the current snapshot; feedback names what is wrong and how to fix it. Every
condition the curriculum lists is required: a condition missed scores 0 (the curriculum gives no
partial credit in lab3), and the feedback says which one.
"""
from __future__ import annotations

from grader.core.checks import check, fail, passed, prepared_domain
from grader.core.evidence import Evidence

from .names import BRANCH, CLEAN, EXTERNAL, LIVE, RAW, RAW_VOLUME, VM


def _snapshot(ev: Evidence, domain: str, name: str, missing: str = "snapshot-missing"):
    """The prepared domain and its snapshot `name`; fails the check when either is missing."""
    dom = prepared_domain(ev, domain)
    snap = dom.snapshots.get(name)
    if snap is None:
        fail(missing, snapshot=name, domain=domain)
    return dom, snap


@check("snap-offline")
def snap_offline(ev: Evidence):
    _, snap = _snapshot(ev, VM, CLEAN)
    view = snap.view
    if view.state != "shutoff":
        fail("clean-not-shutoff", state=view.state)
    kinds = {d.snapshot for d in view.disks if d.snapshot != "no"}
    if kinds != {"internal"}:
        fail("clean-not-internal", kinds=", ".join(sorted(k or "?" for k in kinds)) or "none")
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
    backing = _backing_of(ev, dom, snap, overlay)
    if not backing or not backing.endswith("/" + RAW_VOLUME):
        fail("ext-wrong-backing", backing=backing or "none")
    return passed("ext-ok", overlay=overlay.file)


def _backing_of(ev: Evidence, dom, snap, overlay) -> str | None:
    """The overlay's backing file, from the best record libvirt gives read-only: the running
    domain's backing chain, else the refreshed pool's volume, else the disk the snapshot replaced."""
    current = next((d for d in dom.view.file_disks if d.target == overlay.name), None)
    if current is not None and current.backing is not None:
        return current.backing.path
    found = ev.host().volume_by_path(overlay.file)
    if found and found[1].view.backing_path:
        return found[1].view.backing_path
    before = snap.view.domain
    if before is not None:
        disk = next((d for d in before.file_disks if d.target == overlay.name), None)
        return disk.path if disk else None
    return None
