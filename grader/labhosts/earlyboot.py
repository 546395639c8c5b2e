"""The VM hosts' early boot: a short /labhost-init appended to Debian's initrd (`rdinit=`).

Debian's initramfs starts udev, lets it settle and runs the hooks of LVM, iSCSI and resume
before it mounts the root: 4.6 s of each cold boot under emulation, for a root that is always
the first virtio disk, ext4. /labhost-init loads just the modules that disk needs (in the order
modules.dep gives, resolved when the image is built), mounts it and hands over to systemd.
Should anything fail it starts Debian's own /init instead, which is still in the initrd.

The script rides in a second cpio archive appended to the first: the kernel unpacks both.
"""
from __future__ import annotations

import posixpath
from pathlib import Path

#: The modules the root disk needs (their dependencies come from modules.dep).
ROOT_MODULES = ("virtio_pci", "virtio_blk", "crc32c_generic", "ext4")

#: Where the script is in the initrd; the kernel runs it with `rdinit=`.
PATH = "/labhost-init"

SCRIPT = """#!/bin/sh
# grader/labhosts/earlyboot.py: the root disk's modules, the root, systemd. Debian's /init
# (still here) if anything fails.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
mount -t devtmpfs -o nosuid,mode=0755 udev /dev
for m in {modules}; do
  insmod "$m" 2>/dev/null || echo "labhost-init: $m did not load"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 1; i=$((i + 1)); done
if mount -t ext4 -o rw /dev/vda /root && mount -o move /dev /root/dev; then
  exec run-init /root /sbin/init "$@"
fi
echo "labhost-init: the root did not mount; Debian's /init takes over"
umount /root 2>/dev/null; umount /dev 2>/dev/null
exec /init "$@"
"""


def module_order(modules_dep: str, wanted: tuple[str, ...], root: str) -> list[str]:
    """The paths to insmod, each after its dependencies, from modules.dep's text."""
    deps = {}
    for line in modules_dep.splitlines():
        module, _, needs = line.partition(":")
        deps[module] = needs.split()
    by_name = {posixpath.basename(m).split(".ko")[0].replace("-", "_"): m for m in deps}
    order: list[str] = []

    def load(module: str) -> None:
        if module in order:
            return
        for need in reversed(deps[module]):      # modules.dep lists the deepest last
            load(need)
        order.append(module)

    for name in wanted:
        if name not in by_name:
            raise LookupError(f"module {name} is not in modules.dep")
        load(by_name[name])
    return [posixpath.join(root, m) for m in order]


def script(rootfs: Path, version: str) -> str:
    moddir = f"/usr/lib/modules/{version}"
    dep = (rootfs / moddir.lstrip("/") / "modules.dep").read_text()
    return SCRIPT.replace("{modules}", " ".join(module_order(dep, ROOT_MODULES, moddir)))


def newc(files: dict[str, tuple[int, bytes]]) -> bytes:
    """A cpio archive in the kernel's "newc" format: {name: (mode, content)}."""
    out = bytearray()

    def entry(name: str, mode: int, data: bytes, ino: int) -> None:
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + encoded)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, (mode, data)) in enumerate(sorted(files.items()), start=1):
        entry(name, mode, data, ino)
    entry("TRAILER!!!", 0, b"", 0)
    return bytes(out)


def append_init(initrd: Path, rootfs: Path, version: str) -> None:
    """Append /labhost-init to `initrd` (padded first: the kernel looks for the next archive
    at a multiple of 4 bytes)."""
    archive = newc({PATH.lstrip("/"): (0o100755, script(rootfs, version).encode())})
    with initrd.open("ab") as out:
        out.write(b"\0" * (-initrd.stat().st_size % 4))
        out.write(archive)
