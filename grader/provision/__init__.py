"""Provision: build and tear down a lab's starting state through the libvirt API only.

Only the libvirt API (no shell, no local files), so `lab start` works the same on a remote host
over qemu+ssh:// as on a lab host. Every function is idempotent: starting a lab again resets it.
Unlike grading, this works over read-write connections (grader.reading.connection, write=True),
which the caller opens and hands over in a StartContext.

    pools       pools and volumes: define, build and start, find, remove (only at the lab's
                Place: its directory, or its own volumes on a shared export), forget
    domains     lab domains with their metadata and nonce: define, start, remove
    blockdevs   spare block devices: what a disk holds, volume groups, erasing (lab5)

A lab's start.py calls these as `provision.define_pool(...)`, and keeps only its own policy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from grader.provision.domains import define_domain, new_nonce, remove_domain, start_domain
from grader.provision.pools import (Place, check_places, create_volume, create_volume_with_data,
                                    define_pool, delete_volume, delete_volumes, ensure_file,
                                    file_in_directory, file_on_share, find_pool, forget_pool, pool_on_source, pool_xml,
                                    remove_pool)

__all__ = ["StartContext", "define_domain", "new_nonce", "remove_domain", "start_domain",
           "Place", "check_places", "create_volume", "create_volume_with_data", "define_pool",
           "delete_volume", "delete_volumes", "ensure_file", "file_in_directory", "file_on_share", "find_pool",
           "forget_pool", "pool_on_source", "pool_xml", "remove_pool"]


@dataclass
class StartContext:
    """What a lab's start/finish functions get: read-write connections per role, the lab's
    start options (declared in its lab.toml) and the environment they may read (LAB_SHARE_*)."""

    lab: str
    conns: dict[str, object]
    options: dict[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    #: Lines for the person who ran `lab start` (e.g. the reference the grader needs).
    notes: list[str] = field(default_factory=list)

    def conn(self, role: str = "A"):
        return self.conns[role]
