"""lab2 checks: five volumes in pool `lab2`, judged by what libvirt reports, not by their names.

In a directory pool libvirt probes each file's header for its format (a qcow2 file named .img
is qcow2) and reports allocation as the blocks the file really holds, so a sparse raw file shows
up as what it is. The backing chain comes from the overlay's own header.
"""
from __future__ import annotations

import posixpath

from grader.core.checks import check, fail, passed, size
from grader.core.evidence import Evidence, PoolEvidence, VolumeEvidence

from .names import (CONVERTED, HUGE, OVERLAY, POOL, RAW, RAW_CAPACITY, THIN,
                    THIN_CAPACITY)

#: How each volume is made, for the feedback when it is missing (commands read the same in any language).
HOW_TO_CREATE = {
    RAW: "virsh vol-create-as lab2 disk-raw.img 1G --format raw --allocation 1G",
    THIN: "virsh vol-create-as lab2 disk-thin.qcow2 10G --format qcow2",
    CONVERTED: "virsh vol-create-from lab2 converted.xml disk-raw.img --inputpool lab2",
    OVERLAY: "virsh vol-create-as lab2 disk-overlay.qcow2 10G --format qcow2"
             " --backing-vol disk-thin.qcow2 --backing-vol-format qcow2",
    HUGE: "virsh vol-create-as lab2 disk-huge.qcow2 SIZE --format qcow2",
}

RAW_MIN_ALLOCATED = 0.99     # "fully allocated"
THIN_MAX_ALLOCATED = 0.01    # "thin": at most 1 % of the capacity allocated
CONVERTED_MAX_ALLOCATED = 0.5  # "well below" the raw image's capacity


def percent(part: int | None, whole: int | None) -> str:
    return f"{100 * (part or 0) / whole:.1f} %" if whole else "?"


def _pool(ev: Evidence) -> PoolEvidence:
    pool = ev.host().pool(POOL)
    if pool is None:
        fail("pool-missing")
    if not pool.active:
        fail("pool-inactive")
    return pool


def _volume(ev: Evidence, name: str) -> tuple[PoolEvidence, VolumeEvidence]:
    """The volume as pool `lab2` lists it; fails the check when it is not there."""
    pool = _pool(ev)
    vol = pool.volumes.get(name)
    if vol is None:
        fail("vol-missing", volume=name, create=HOW_TO_CREATE[name])
    return pool, vol


def _format(vol: VolumeEvidence, wanted: str) -> None:
    """Fails when libvirt's probed format is not `wanted` (whatever the name says)."""
    fmt = vol.view.format or "unknown"
    if fmt != wanted:
        fail("wrong-format", volume=vol.name, format=fmt, wanted=wanted)


def _capacity(vol: VolumeEvidence, wanted: int) -> None:
    if vol.view.capacity != wanted:
        fail("wrong-capacity", volume=vol.name, capacity=size(vol.view.capacity),
             bytes=vol.view.capacity, wanted=size(wanted), wanted_bytes=wanted)


@check("vol-raw")
def vol_raw(ev: Evidence):
    _, vol = _volume(ev, RAW)
    _format(vol, "raw")
    _capacity(vol, RAW_CAPACITY)
    allocation, capacity = vol.view.allocation or 0, vol.view.capacity
    if allocation < RAW_MIN_ALLOCATED * capacity:
        fail("raw-sparse", allocation=size(allocation), capacity=size(capacity),
             percent=percent(allocation, capacity))
    return passed("raw-ok", allocation=size(allocation))


@check("vol-qcow2")
def vol_qcow2(ev: Evidence):
    _, vol = _volume(ev, THIN)
    _format(vol, "qcow2")
    _capacity(vol, THIN_CAPACITY)
    allocation, capacity = vol.view.allocation or 0, vol.view.capacity
    if allocation > THIN_MAX_ALLOCATED * capacity:
        fail("qcow2-not-thin", allocation=size(allocation), capacity=size(capacity),
             percent=percent(allocation, capacity))
    return passed("qcow2-ok", allocation=size(allocation), percent=percent(allocation, capacity))


@check("vol-convert")
def vol_convert(ev: Evidence):
    pool, vol = _volume(ev, CONVERTED)
    _format(vol, "qcow2")
    raw = pool.volumes.get(RAW)
    if raw is None:
        fail("convert-no-raw")
    if vol.view.capacity != raw.view.capacity:
        fail("convert-wrong-capacity", capacity=size(vol.view.capacity), raw=size(raw.view.capacity))
    allocation, capacity = vol.view.allocation or 0, vol.view.capacity
    if allocation > CONVERTED_MAX_ALLOCATED * capacity:
        fail("convert-not-thin", allocation=size(allocation), capacity=size(capacity),
             percent=percent(allocation, capacity))
    return passed("convert-ok", allocation=size(allocation), raw=size(raw.view.allocation))


@check("vol-overlay")
def vol_overlay(ev: Evidence):
    pool, vol = _volume(ev, OVERLAY)
    _format(vol, "qcow2")
    backing = vol.view.backing_path
    if not backing:
        fail("overlay-no-backing")
    expected = posixpath.join(pool.view.target_path or "", THIN)
    if posixpath.normpath(backing) != posixpath.normpath(expected):
        fail("overlay-wrong-backing", backing=backing, expected=expected)
    if vol.view.backing_format != "qcow2":
        fail("overlay-wrong-backing-format", format=vol.view.backing_format or "none")
    return passed("overlay-ok", backing=backing, allocation=size(vol.view.allocation))


@check("vol-overcommit")
def vol_overcommit(ev: Evidence):
    pool, vol = _volume(ev, HUGE)
    _format(vol, "qcow2")
    promised = sum(v.view.capacity or 0 for v in pool.volumes.values())
    capacity = pool.view.capacity or 0
    if promised <= capacity:
        fail("not-overcommitted", promised=size(promised), pool=size(capacity))
    used = sum(v.view.allocation or 0 for v in pool.volumes.values())
    return passed("overcommit-ok", promised=size(promised), pool=size(capacity), used=size(used))
