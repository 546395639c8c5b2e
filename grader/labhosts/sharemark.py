"""The share marker on the lab hosts' own export (grader.core.sharemarker): made through host a's
libvirt when `lab hosts up` starts something, its reference kept in LAB_HOME for `lab hosts env`
(LAB_SHARE_MARKER), which is where the grader and the notebooks take it from."""
from __future__ import annotations

from grader.core import sharemarker
from grader.labhosts.config import Settings


def _recorded(settings: Settings):
    return settings.home / "share-marker"


def ensure(settings: Settings, env: dict[str, str], server_uri: str | None = None) -> str:
    """Make the marker (if the export lacks it) and record its reference; return it. With
    `server_uri`, the libvirt of the host that serves the export (VM hosts: the storage host)
    makes it in the exported directory itself: seconds less than mounting it under emulation."""
    from grader import provision
    from grader.reading import connection

    source = {"host": env["LAB_SHARE_HOST"], "dir": env["LAB_SHARE_PATH"], "format": env["LAB_SHARE_FORMAT"]}
    conn = connection.open_bounded(server_uri or env["LIBVIRT_DEFAULT_URI"], write=True)
    try:
        ctime = (provision.file_in_directory(conn, env["LAB_SHARE_PATH"], sharemarker.NAME) if server_uri
                 else provision.file_on_share(conn, source, sharemarker.NAME))
    finally:
        connection.close(conn)
    reference = str(sharemarker.Marker(sharemarker.NAME, ctime))
    _recorded(settings).write_text(reference + "\n")
    return reference


def forget(settings: Settings) -> None:
    """The export is gone (its volume removed): so is the marker's reference."""
    _recorded(settings).unlink(missing_ok=True)


def environment(settings: Settings) -> dict[str, str]:
    """LAB_SHARE_MARKER, when a marker was made for this LAB_HOME's export."""
    try:
        return {"LAB_SHARE_MARKER": _recorded(settings).read_text().strip()}
    except FileNotFoundError:
        return {}
