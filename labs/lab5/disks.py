"""lab5's spare disks: which devices they are, and how a device path relates to its disk.

Pure (no libvirt): the checks use it as much as `lab start` does. The grader reads hosts
read-only through libvirt, which says which device a pool is on but not which disk the host's
own system runs from, nor what LAB_DISKS was on the student's machine; so the checks accept any
device but the names a system disk normally has, and say which device each pool uses.
`lab start lab5` looks at what the devices hold (labs/lab5/start.py).
"""
from __future__ import annotations

import re
from typing import Mapping

from grader.errors import UsageError

from .names import DEFAULT_DISKS

#: Devices whose names end in a digit although they are whole disks: their partitions add `pN`.
_NUMBERED = re.compile(r"^/dev/(?:nvme\d+n\d+|mmcblk\d+|loop\d+|nbd\d+|md\d+|zram\d+)$")
_PARTITION_P = re.compile(r"^(/dev/(?:nvme\d+n\d+|mmcblk\d+|loop\d+|nbd\d+|md\d+))p\d+$")
_PARTITION = re.compile(r"^(/dev/(?:[shv]d|xvd)[a-z]+)\d+$")
#: A device path as lab5 accepts it: under /dev, no spaces or shell characters.
_DEVICE = re.compile(r"^/dev/[A-Za-z0-9][A-Za-z0-9/_.:+-]*$")
#: The first disk of each bus: where a host's own system normally is.
SYSTEM_DISKS = ("/dev/vda", "/dev/sda", "/dev/hda", "/dev/xvda", "/dev/nvme0n1", "/dev/mmcblk0")


def disk_of(path: str | None) -> str | None:
    """The whole disk a device path is on: /dev/vdb1 -> /dev/vdb, /dev/nvme0n1p2 -> /dev/nvme0n1."""
    if not path:
        return None
    path = path.rstrip("/")
    if _NUMBERED.match(path):
        return path
    for pattern in (_PARTITION_P, _PARTITION):
        if match := pattern.match(path):
            return match.group(1)
    return path


def partition_name(disk: str, number: int) -> str:
    """The name libvirt gives partition `number` of `disk` in a disk pool: vdb1, nvme0n1p1."""
    name = disk.rstrip("/").rsplit("/", 1)[-1]
    return f"{name}p{number}" if name[-1:].isdigit() else f"{name}{number}"


def is_system_disk(path: str | None) -> bool:
    """Whether a device is (on) a disk named as a host's own system disk normally is."""
    return disk_of(path) in SYSTEM_DISKS


def spare_disks(option: str | None, env: Mapping[str, str]) -> tuple[str, str, str]:
    """The three spare disks: `--disks`, else $LAB_DISKS, else /dev/vdb /dev/vdc /dev/vdd."""
    text = option if option is not None else env.get("LAB_DISKS")
    where = "--disks" if option is not None else "LAB_DISKS"
    if text is None or not text.strip():
        return DEFAULT_DISKS
    devices = tuple(text.replace(",", " ").split())
    bad = [d for d in devices if not _DEVICE.match(d)]
    if bad:
        raise UsageError(f"{where} names {bad[0]!r}, which is not a device path: give three spare "
                         "disks, e.g. LAB_DISKS='/dev/vdb /dev/vdc /dev/vdd'")
    if len(devices) != 3 or len(set(devices)) != 3:
        raise UsageError(f"{where} names {len(set(devices))} distinct device(s) ({' '.join(devices)}): "
                         "lab5 needs three spare disks, one per pool, e.g. "
                         "LAB_DISKS='/dev/vdb /dev/vdc /dev/vdd'")
    return devices  # type: ignore[return-value]
