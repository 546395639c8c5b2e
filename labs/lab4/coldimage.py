"""What `lab start lab4` writes into lab4-cold.qcow2, and what a copy of it must carry.

A blank qcow2 of the same size is a few hundred KiB, whatever it claims; lab4-cold.qcow2 holds
1-2 MiB of this student's random data (from the domain's nonce), starting at 1 MiB so the
firmware never finds a boot sector in it. Every honest copy keeps it (streams, vol-download/
vol-upload, vol-create-from, qemu-img convert, cp, scp, rsync -S: random data has no holes and
does not compress), and libvirt reports it as the copy's allocation. A nonce edited by hand
cannot lower the bar: it never goes below MIN_CLUSTERS.
"""
from __future__ import annotations

import hashlib

CLUSTER = 64 * 1024
MIN_CLUSTERS = 16
OFFSET = 1024 * 1024


def data_clusters(nonce: str | None) -> int:
    """How many 64 KiB clusters of data this student's image holds: 16 to 32."""
    try:
        return MIN_CLUSTERS + int((nonce or "0")[:4], 16) % 17
    except ValueError:
        return MIN_CLUSTERS


def data(nonce: str) -> bytes:
    """The data itself: incompressible, never all zeros, different for every nonce."""
    return hashlib.shake_256(f"lab4-cold:{nonce}".encode()).digest(data_clusters(nonce) * CLUSTER)


def least_allocation(nonce: str | None) -> int:
    """The allocation any copy of the image has at least: its data."""
    return data_clusters(nonce) * CLUSTER
