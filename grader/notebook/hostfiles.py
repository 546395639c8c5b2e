"""Where a host's file (a disk image) is on the machine running the notebook, if it is there at all.

A few experiments work on an image file itself, as the host's own tools do (`qemu-io`, `qemu-img
info -U`). That needs the file: on the student's own machine (`qemu:///system`) it is at the path
libvirt reports; on the project's lab hosts it is under the host's directory, which each lab host
binds over /var/lib/libvirt in its own mount namespace; on a remote host it is not here at all,
and the notebook says to run the command on the host instead.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

LIBVIRT_LIB = PurePosixPath("/var/lib/libvirt")


def host_file(conn, path: str) -> Path | None:
    """Where the file `path` of the host `conn` is connected to is on this machine (None: not here)."""
    return local_path(conn.getURI(), path)


def local_path(uri: str, path: str, env=None) -> Path | None:
    """The path on this machine of `path` on the host at `uri`, or None when it is not here."""
    from grader.labhosts.config import Settings

    parts = urlsplit(uri)
    transport = parts.scheme.partition("+")[2]
    if not parts.hostname and transport in ("", "unix"):
        return Path(path)  # a local URI: this machine's own libvirt
    if parts.hostname not in ("127.0.0.1", "localhost"):
        return None
    settings = Settings.from_env(env)
    hosts = settings.hosts_dir.iterdir() if settings.hosts_dir.is_dir() else ()
    for folder in sorted(hosts):
        try:
            if settings.port(folder.name) != parts.port:
                continue
        except Exception:  # noqa: BLE001 - a folder that is not a lab host's name
            continue
        inside = PurePosixPath(path)
        if inside.is_relative_to(LIBVIRT_LIB):
            return folder / "lib" / inside.relative_to(LIBVIRT_LIB)
        return Path(path)  # outside libvirt's directories the lab host sees this machine's files
    return None
