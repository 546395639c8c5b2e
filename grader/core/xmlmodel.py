"""Typed views of libvirt XML: one class per element, one declarative line per field.

As in virtinst, reading a class is reading the part of libvirt's schema the grader relies on.
Fields are read lazily with XPath from the raw XML kept in the evidence, so the evidence stays
plain text and these views are cheap to rebuild offline.
"""
from __future__ import annotations

from lxml import etree

#: The project's XML namespace for the metadata that `lab start` puts on every domain it prepares.
LAB_NS = "https://kvm-storage-lab.example.org/xmlns/lab/1.0"

NAMESPACES = {"lab": LAB_NS}

#: No entities, no network. huge_tree lifts libxml2's depth limit of 256: libvirt accepts a
#: domain whose <metadata> nests 254 deep, and its snapshot XML (which wraps the domain) is
#: then deeper than 256. What one host may serve in all is capped when it is collected.
_PARSER = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True,
                          huge_tree=True)


def parse(xml: str | bytes) -> etree._Element:
    if isinstance(xml, str):
        xml = xml.encode()
    return etree.fromstring(xml, _PARSER)


class Field:
    """One value at an XPath (an attribute or an element's text), converted by `kind`."""

    def __init__(self, xpath: str, kind=str, default=None, namespaces: dict | None = None):
        self.xpath, self.kind, self.default = xpath, kind, default
        # compiled once, used per read; a lab's own view may bring its own namespace
        self.find = etree.XPath(xpath, namespaces={**NAMESPACES, **(namespaces or {})})

    def __set_name__(self, owner, name):
        self.owner, self.name = owner.__name__, name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        found = self.find(obj.node)
        if not found:
            return self.default
        value = found[0]
        text = value if isinstance(value, str) else value.text
        if text is None:
            return self.default
        return _convert(text.strip(), self.kind)


class ListField(Field):
    """Every value at an XPath, as a list."""

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        out = []
        for value in self.find(obj.node):
            text = value if isinstance(value, str) else value.text
            if text is not None:
                out.append(_convert(text.strip(), self.kind))
        return out


class Child:
    """Sub-elements at an XPath, each wrapped in a view class."""

    def __init__(self, xpath: str, view: type, many: bool = False):
        self.xpath, self.view, self.many = xpath, view, many
        self.find = etree.XPath(xpath, namespaces=NAMESPACES)

    def __set_name__(self, owner, name):
        self.owner, self.name = owner.__name__, name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        nodes = self.find(obj.node)
        views = [self.view(n) for n in nodes]
        if self.many:
            return views
        return views[0] if views else None


def _convert(text: str, kind):
    if kind is bool:
        return text.lower() in ("yes", "on", "1", "true")
    if kind is int:
        return int(text)
    return kind(text)


class SizeField(Field):
    """A size element with its unit attribute (<capacity unit='KiB'>64</capacity>), in bytes."""

    def __init__(self, xpath: str):
        super().__init__(xpath, int)
        self.find_unit = etree.XPath(xpath + "/@unit")

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = super().__get__(obj, owner)
        unit = self.find_unit(obj.node)
        return _scaled(value, unit[0] if unit else None)


class XmlView:
    """Base: wraps an lxml element (or parses a string)."""

    namespaces = NAMESPACES

    def __init__(self, xml):
        self.node = xml if isinstance(xml, etree._Element) else parse(xml)

    def __repr__(self):
        return f"<{type(self).__name__} {getattr(self, 'name', '')!r}>"


def _scaled(value: int | None, unit: str | None) -> int | None:
    """libvirt sizes carry a unit attribute; the grader works in bytes."""
    if value is None:
        return None
    return value * UNITS.get((unit or "bytes").lower(), 1)


UNITS = {
    "b": 1, "bytes": 1,
    "kb": 10**3, "k": 2**10, "kib": 2**10,
    "mb": 10**6, "m": 2**20, "mib": 2**20,
    "gb": 10**9, "g": 2**30, "gib": 2**30,
    "tb": 10**12, "t": 2**40, "tib": 2**40,
}


# --- storage pools -----------------------------------------------------------------------------

class PoolXml(XmlView):
    """<pool>: every pool type the seed names (dir, netfs, disk, iscsi, iscsi-direct, logical,
    zfs, fs, gluster) shares this shape; the source element differs by type."""

    type = Field("./@type")
    name = Field("./name")
    capacity = SizeField("./capacity")
    allocation = SizeField("./allocation")
    available = SizeField("./available")
    target_path = Field("./target/path")
    source_host = Field("./source/host/@name")
    source_hosts = ListField("./source/host/@name")
    source_port = Field("./source/host/@port", int)
    source_dir = Field("./source/dir/@path")
    source_devices = ListField("./source/device/@path")
    source_device = Field("./source/device/@path")
    source_name = Field("./source/name")
    source_format = Field("./source/format/@type")
    source_adapter_type = Field("./source/adapter/@type")
    source_adapter_name = Field("./source/adapter/@name")
    source_adapter_parent = Field("./source/adapter/@parent")     # fc_host (vHBA) adapters
    source_adapter_wwnn = Field("./source/adapter/@wwnn")
    source_adapter_wwpn = Field("./source/adapter/@wwpn")
    source_protocol_ver = Field("./source/protocol/@ver")         # netfs nfs: nfsvers
    source_auth_type = Field("./source/auth/@type")               # iscsi chap, rbd ceph
    source_auth_username = Field("./source/auth/@username")
    initiator_iqn = Field("./source/initiator/iqn/@name")

    @property
    def source_signature(self) -> dict:
        """What identifies the storage behind a pool, for 'same source on both hosts'."""
        return {"host": self.source_host, "dir": self.source_dir,
                "device": self.source_device, "name": self.source_name,
                "format": self.source_format}


# --- storage volumes ---------------------------------------------------------------------------

class VolumeXml(XmlView):
    """<volume>: format and backing chain as libvirt reports them (probed from the file in dir
    pools, so a qcow2 file named .img is reported as qcow2)."""

    name = Field("./name")
    key = Field("./key")
    capacity = SizeField("./capacity")
    allocation = SizeField("./allocation")
    physical = SizeField("./physical")
    path = Field("./target/path")
    format = Field("./target/format/@type")
    backing_path = Field("./backingStore/path")
    backing_format = Field("./backingStore/format/@type")
    #: When the file's inode last changed, as libvirt stats it ("seconds.nanoseconds"). No
    #: program can set it, so two hosts that show one file with one ctime see the same file.
    ctime = Field("./target/timestamps/ctime")


# --- domains -----------------------------------------------------------------------------------

class BackingStoreXml(XmlView):
    type = Field("./@type")
    format = Field("./format/@type")
    file = Field("./source/@file")
    dev = Field("./source/@dev")

    @property
    def path(self):
        return self.file or self.dev


class DiskXml(XmlView):
    """<disk> of a domain: where its data lives (a file, a block device or a pool volume)."""

    type = Field("./@type")
    device = Field("./@device")
    driver_type = Field("./driver/@type")
    file = Field("./source/@file")
    dev = Field("./source/@dev")
    pool = Field("./source/@pool")
    volume = Field("./source/@volume")
    target = Field("./target/@dev")
    backing = Child("./backingStore[source]", BackingStoreXml)

    @property
    def path(self):
        return self.file or self.dev


class LabMetadataXml(XmlView):
    """The project's <lab:lab id=... nonce=...> element inside a domain's <metadata>."""

    lab = Field("./@id")
    nonce = Field("./@nonce")


class DomainXml(XmlView):
    type = Field("./@type")
    name = Field("./name")
    uuid = Field("./uuid")
    memory_kib = Field("./memory", int)
    disks = Child("./devices/disk", DiskXml, many=True)
    lab_metadata = Child("./metadata/lab:lab", LabMetadataXml)
    macs = ListField("./devices/interface/mac/@address")

    @property
    def file_disks(self) -> list[DiskXml]:
        return [d for d in self.disks if d.device in (None, "disk")]


# --- snapshots ---------------------------------------------------------------------------------

class SnapshotDiskXml(XmlView):
    name = Field("./@name")
    snapshot = Field("./@snapshot")      # internal | external | no | manual
    driver_type = Field("./driver/@type")
    file = Field("./source/@file")


class SnapshotXml(XmlView):
    """<domainsnapshot>: state at the time it was taken, memory kind, disks, parent."""

    name = Field("./name")
    state = Field("./state")             # shutoff | running | paused | disk-snapshot ...
    parent = Field("./parent/name")
    creation_time = Field("./creationTime", int)
    memory = Field("./memory/@snapshot")  # internal | external | no
    memory_file = Field("./memory/@file")
    disks = Child("./disks/disk", SnapshotDiskXml, many=True)
    domain = Child("./domain", DomainXml)

    def disk(self, target: str) -> SnapshotDiskXml | None:
        return next((d for d in self.disks if d.name == target), None)
