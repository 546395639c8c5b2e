"""lab4's own XML view: the live-only marker `lab start lab4` puts on the running lab4-live."""
from __future__ import annotations

from grader.core.xmlmodel import Field, XmlView

from .names import LIVE_NS


class LiveMarkerXml(XmlView):
    """<domain>'s <metadata><live:live nonce=.../></metadata>, in the live or inactive XML."""

    nonce = Field("./metadata/live:live/@nonce", namespaces={"live": LIVE_NS})


def live_nonce(domain_view) -> str | None:
    """The marker's nonce in a parsed domain definition (grader.core.xmlmodel.DomainXml)."""
    return LiveMarkerXml(domain_view.node).nonce if domain_view is not None else None
