"""Everything a libvirt host reports about its storage and domains, read-only, to compare before/after.

Pools (XML without the file system's sizes, active, autostart), their volumes (XML), domains (running and persistent XML, state)
and snapshots (XML, current): what `virsh pool-dumpxml`, `vol-dumpxml`, `dumpxml` and
`snapshot-dumpxml` would show. Two equal dumps mean nothing a test cares about changed.
"""
from __future__ import annotations

import re

import libvirt

from grader.reading import connection

#: A pool's sizes are its file system's, which other programs on the machine change at any time.
_SIZES = re.compile(r"<(capacity|allocation|available)\b[^>]*>[^<]*</\1>")


def host_dump(uri: str) -> dict[str, str]:
    conn = connection.open_bounded(uri)
    try:
        out: dict[str, str] = {}
        for pool in sorted(conn.listAllStoragePools(0), key=lambda p: p.name()):
            xml = _SIZES.sub("", pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE))
            out[f"pool {pool.name()}"] = f"{xml} active={pool.isActive()} autostart={pool.autostart()}"
            if pool.isActive():
                for vol in sorted(pool.listAllVolumes(0), key=lambda v: v.name()):
                    out[f"vol {pool.name()}/{vol.name()}"] = vol.XMLDesc(0)
        for dom in sorted(conn.listAllDomains(0), key=lambda d: d.name()):
            out[f"domain {dom.name()}"] = f"{dom.XMLDesc(0)} state={dom.state(0)}"
            if dom.isPersistent():
                out[f"domain {dom.name()} inactive"] = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
            for snap in dom.listAllSnapshots(0):
                out[f"snapshot {dom.name()}/{snap.getName()}"] = (
                    f"{snap.getXMLDesc(0)} current={snap.isCurrent(0)}")
        return out
    finally:
        connection.close(conn)
