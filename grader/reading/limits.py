"""How long reading a host may take and how much it may serve: plain data, no libvirt, so the
class layer and the command line can build limits without loading libvirt."""
from __future__ import annotations

from dataclasses import dataclass

MiB = 2**20


@dataclass(frozen=True)
class Limits:
    jobs: int = 200                 # students read at once: threads mostly waiting on the network
    timeout: float = 20.0           # seconds for one student's hosts, connecting included
    connect_timeout: float = 5.0    # seconds for one open (never more than `timeout`)
    keepalive_interval: int = 2     # seconds between keepalive probes on an idle connection
    keepalive_count: int = 2        # unanswered probes before libvirt drops the connection
    max_host_bytes: int = 8 * MiB   # libvirt XML one host may serve (a lab's objects are KiB)

    @property
    def connect_deadline(self) -> float:
        return min(self.connect_timeout, self.timeout)
