"""Lab hosts: isolated libvirt hosts on this machine, plus the course's shared storage.

Each host is a real libvirtd (QEMU driver; KVM where usable, else TCG) in its own mount
namespace, reachable at qemu+tls://127.0.0.1:PORT/system?pkipath=LAB_HOME/pki by root alone
(`pki`). The shared storage is a GlusterFS
volume (for `netfs` pools) and a user-space iSCSI target (for `iscsi-direct` pools), enough for
live migration between hosts. All state lives under LAB_HOME (see `config`).

Public API: up(names), down(names), status(), services(), environment().
"""
from grader.labhosts.lifecycle import down, environment, services, status, up

__all__ = ["up", "down", "status", "services", "environment"]
