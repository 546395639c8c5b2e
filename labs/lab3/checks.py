"""lab3 checks: the snapshot tree of `lab3-vm` and the external snapshot of `lab3-raw`.

Each check reads the snapshot XML libvirt keeps (state at the time, memory kind, disk kind,
parent) and the current snapshot; feedback names what is wrong and how to fix it. Every
condition the curriculum lists is required: a condition missed scores 0 (the curriculum gives no
partial credit in lab3), and the feedback says which one.
"""
from __future__ import annotations

from grader.checks import check, failed, passed, prepared_domain
from grader.evidence import Evidence

VM, RAW = "lab3-vm", "lab3-raw"


def _snapshot(ev: Evidence, domain: str, name: str, missing: str = "snapshot-missing"):
    dom, verdict = prepared_domain(ev, domain)
    if verdict:
        return dom, None, verdict
    snap = dom.snapshots.get(name)
    if snap is None:
        return dom, None, failed(missing, snapshot=name, domain=domain)
    return dom, snap, None


@check("snap-offline")
def snap_offline(ev: Evidence):
    dom, snap, verdict = _snapshot(ev, VM, "clean")
    if verdict:
        return verdict
    view = snap.view
    if view.state != "shutoff":
        return failed("clean-not-shutoff", state=view.state)
    kinds = {d.snapshot for d in view.disks if d.snapshot != "no"}
    if kinds != {"internal"}:
        return failed("clean-not-internal", kinds=", ".join(sorted(k or "?" for k in kinds)) or "none")
    return passed("clean-ok")


@check("snap-live")
def snap_live(ev: Evidence):
    dom, snap, verdict = _snapshot(ev, VM, "live-1")
    if verdict:
        return verdict
    view = snap.view
    if view.state == "disk-snapshot" or view.memory in (None, "no"):
        return failed("live-no-memory", state=view.state)
    if view.state != "running":
        return failed("live-not-running", state=view.state)
    if view.memory != "internal":
        return failed("live-memory-external", memory=view.memory)
    if view.parent != "clean":
        return failed("live-wrong-parent", parent=view.parent or "none")
    return passed("live-ok")


@check("snap-revert")
def snap_revert(ev: Evidence):
    dom, snap, verdict = _snapshot(ev, VM, "branch-b")
    if verdict:
        return verdict
    parent = snap.view.parent
    if parent == "live-1":
        return failed("revert-skipped")
    if parent != "clean":
        return failed("branch-wrong-parent", parent=parent or "none")
    children = dom.children("clean")
    if len(children) < 2:
        return failed("clean-one-child", children=", ".join(children))
    if dom.current_snapshot != "branch-b":
        return failed("branch-not-current", current=dom.current_snapshot or "none")
    return passed("revert-ok")


@check("snap-external")
def snap_external(ev: Evidence):
    dom, snap, verdict = _snapshot(ev, RAW, "ext-1", missing="ext-missing")
    if verdict:
        return verdict
    disks = [d for d in snap.view.disks if d.snapshot not in (None, "no")]
    external = [d for d in disks if d.snapshot == "external"]
    if not external:
        return failed("ext-not-external")
    overlay = external[0]
    if overlay.driver_type not in (None, "qcow2"):
        return failed("ext-not-qcow2", format=overlay.driver_type)
    current = next((d for d in dom.view.file_disks if d.target == overlay.name), None)
    if current is None or current.path != overlay.file:
        return failed("ext-disk-not-overlay", overlay=overlay.file or "?",
                      disk=current.path if current else "none")
    backing = _backing_of(ev, dom, snap, overlay)
    if not backing or not backing.endswith("/lab3-raw.img"):
        return failed("ext-wrong-backing", backing=backing or "none")
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
