"""Where lab-host state lives, and which names and ports hosts get.

Everything is derived from a few environment variables, so URIs stay stable from one `up` to
the next and two base directories (LAB_HOME) can coexist on one machine: tests use their own
LAB_HOME, base port and host names while developers keep using the default hosts `a` and `b`.

    LAB_HOME        base directory of all lab-host state (default /var/lib/kvm-storage-lab)
    LAB_PORT_BASE   first port of this LAB_HOME's block (default 16600)
    LAB_PORT_<NAME> fixed libvirtd (TLS) port of one host (overrides the derived one)
    LAB_ACCEL       `auto` (KVM when /dev/kvm is usable, else TCG) or `tcg` (hide /dev/kvm)
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
import zlib
from urllib.parse import quote
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError

DEFAULT_HOME = Path("/var/lib/kvm-storage-lab")
DEFAULT_PORT_BASE = 16600
DEFAULT_NAMES = ("a", "b")

#: Machine-wide, not per LAB_HOME: what several LAB_HOMEs share (glusterd, its lock).
MACHINE_DIR = Path("/run/kvm-storage-lab")

#: Short lowercase identifiers: they become directory names, env names and port slots.
NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")

#: Each host owns a slot of 10 ports: libvirtd on the first, QEMU migrations on the other 9.
SLOT = 10
_HASHED_SLOTS = 68  # slots 28..95 for names other than one letter (a..z are slots 1..26)

IQN_PREFIX = "iqn.2024-01.lab.kvm-storage"


def validate_name(name: str) -> str:
    """Reject names that cannot be a directory, an env-variable suffix and a port slot."""
    if not NAME_RE.match(name or ""):
        raise UsageError(
            f"invalid host name {name!r}: use a short lowercase identifier "
            "(a letter, then up to 11 letters or digits), e.g. `lab hosts up a b`"
        )
    return name


def slot(name: str) -> int:
    """Port slot of a host: a..z get 1..26 (a readable 16610, 16620...), others a stable hash."""
    if len(name) == 1:
        return ord(name) - ord("a") + 1
    return 28 + zlib.crc32(name.encode()) % _HASHED_SLOTS


ISCSI_STANDARD_PORT = 3260


@dataclass(frozen=True)
class Settings:
    """One LAB_HOME and its ports; every path and port of lab hosts comes from here."""

    home: Path = DEFAULT_HOME
    port_base: int = DEFAULT_PORT_BASE
    port_overrides: tuple[tuple[str, int], ...] = ()
    accel: str = "auto"
    #: Where VM hosts' images are cached (under its images/): one cache per machine, whatever
    #: LAB_HOME, so tests' scratch LAB_HOMEs boot the same image and never build their own.
    images: Path = DEFAULT_HOME

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        env = os.environ if env is None else env
        home = Path(env.get("LAB_HOME") or DEFAULT_HOME)
        if not home.is_absolute():
            raise UsageError(f"LAB_HOME must be an absolute path, not {str(home)!r}")
        overrides = []
        for key, value in env.items():
            if key.startswith("LAB_PORT_") and key != "LAB_PORT_BASE":
                overrides.append((key[len("LAB_PORT_"):].lower(), _port(key, value)))
        accel = env.get("LAB_ACCEL", "auto") or "auto"
        if accel not in ("auto", "tcg"):
            raise UsageError(f"LAB_ACCEL must be `auto` or `tcg`, not {accel!r}")
        base = _port("LAB_PORT_BASE", env.get("LAB_PORT_BASE", str(DEFAULT_PORT_BASE)))
        if base + 100 * SLOT > 65535:
            raise UsageError(f"LAB_PORT_BASE={base} is too high: use at most {65535 - 100 * SLOT}")
        images = Path(env.get("LAB_IMAGES") or DEFAULT_HOME)
        if not images.is_absolute():
            raise UsageError(f"LAB_IMAGES must be an absolute path, not {str(images)!r}")
        return cls(home, base, tuple(sorted(overrides)), accel, images)

    # ---- hosts
    @property
    def hosts_dir(self) -> Path:
        return self.home / "hosts"

    def host_dir(self, name: str) -> Path:
        return self.hosts_dir / validate_name(name)

    def port(self, name: str) -> int:
        """The libvirtd TCP port of host `name`; its migration ports are the next nine."""
        fixed = dict(self.port_overrides).get(name)
        return fixed if fixed is not None else self.port_base + SLOT * slot(validate_name(name))

    def uri(self, name: str) -> str:
        """TLS on loopback, with this LAB_HOME's client certificate (see `pki`): only the user
        who can read LAB_HOME/pki (root) can open the host."""
        return (f"qemu+tls://127.0.0.1:{self.port(name)}/system"
                f"?pkipath={quote(str(self.pki_dir), safe='/')}")

    @property
    def pki_dir(self) -> Path:
        return self.home / "pki"

    # ---- shared storage
    @property
    def is_default_home(self) -> bool:
        return self.home == DEFAULT_HOME

    @property
    def _suffix(self) -> str:
        """Distinguishes this LAB_HOME's shared objects from other LAB_HOMEs' on the machine."""
        if self.is_default_home:
            return ""
        return "-" + hashlib.sha1(str(self.home).encode()).hexdigest()[:8]

    @property
    def share_volume(self) -> str:
        return "labshare" + self._suffix

    @property
    def share_dir(self) -> Path:
        return self.home / "share"

    @property
    def share_host(self) -> str:
        """Brick and mount host: this machine's name, which must resolve to loopback."""
        return socket.gethostname()

    @property
    def iscsi_dir(self) -> Path:
        return self.home / "iscsi"

    @property
    def iscsi_port(self) -> int:
        """iSCSI's standard port for the default lab hosts, so `LAB_ISCSI_HOST` is a plain host
        that `virsh pool-define-as --source-host` takes as is; other LAB_HOMEs use their base."""
        if self.is_default_home and self.port_base == DEFAULT_PORT_BASE:
            return ISCSI_STANDARD_PORT
        return self.port_base

    @property
    def iscsi_portal(self) -> str:
        """host, or host:port when the port is not iSCSI's standard one (LAB_ISCSI_HOST)."""
        if self.iscsi_port == ISCSI_STANDARD_PORT:
            return "127.0.0.1"
        return f"127.0.0.1:{self.iscsi_port}"

    @property
    def iscsi_control_port(self) -> int:
        """tgtd's management channel (an abstract unix socket number), one per LAB_HOME.

        tgtd rejects numbers above 32767, so high port bases wrap around.
        """
        return self.port_base % 32768

    @property
    def iscsi_target(self) -> str:
        return f"{IQN_PREFIX}:share{self._suffix}"

    @property
    def iscsi_initiator(self) -> str:
        return f"{IQN_PREFIX}:initiator"

    @property
    def lock_file(self) -> Path:
        return self.home / "lock"


def _port(key: str, value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 1024 <= port <= 65535:
        raise UsageError(f"{key}={value!r} is not a port number between 1024 and 65535")
    return port
