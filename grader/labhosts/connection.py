"""Opening libvirt connections quietly: errors become exceptions, never stderr noise."""
from __future__ import annotations

import libvirt

# libvirt-python prints every error to stderr by default, even when the caller handles it.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def connect(uri: str) -> "libvirt.virConnect":
    """A read-write connection to `uri`; raises libvirt.libvirtError if it cannot be opened."""
    return libvirt.open(uri)
