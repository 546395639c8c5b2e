"""What a watch saw happening (grader.core.events.Seen), as one line of text in the reader's
language: "lab4-live: migrated A → B live at 10:42:13". Host text (an object's name, libvirt's
detail) reaches the catalog as a parameter, which makes it printable; each renderer escapes its
own markup."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from grader.core.events import Seen

Text = Callable[..., str]        # a catalog lookup: t(key, **params)


def clock(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at).strftime("%H:%M:%S")


def line(t: Text, seen: Seen) -> str:
    if seen.migration:
        if seen.source and seen.target:
            return t("ui-seen-migrated", object=seen.object, source=seen.source, target=seen.target,
                     at=clock(seen.at))
        if seen.target:
            return t("ui-seen-migrated-in", object=seen.object, target=seen.target, at=clock(seen.at))
        return t("ui-seen-migrated-out", object=seen.object, source=seen.source or "?", at=clock(seen.at))
    event = seen.event
    what = f"{event.event} ({event.detail})" if event.detail else event.event
    text = t("ui-seen-event", object=event.object, role=event.role, event=what, at=clock(event.at))
    if event.count > 1:
        text += " " + t("ui-seen-times", count=event.count, last=clock(event.last))
    return text
