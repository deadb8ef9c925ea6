"""The tracking app's personal data: visitors and their events (core's registry; docs/privacy.md)."""

from __future__ import annotations

from leadmill.core.personal_data import Erase, Link, Merge, PersonalData, columns

from .models import Event, Visitor

PERSONAL_DATA = (
    # A browser the contact used: its cookie id is personal data, its events go with it. Its
    # id is also how rows of other apps that name only the browser find the contact.
    PersonalData(
        model=Visitor,
        links=(Link.foreign_key("contact"), Link.visitor("id")),
        columns=columns("id", "first_seen", "last_seen", erase=Erase.DELETE_ROW),
        merge=Merge.REPOINT,
    ),
    PersonalData(
        model=Event,
        links=(Link.foreign_key("contact"), Link.visitor("visitor")),
        columns=columns(
            "occurred_at",
            "type",
            "name",
            "url",
            "referrer",
            "properties",
            "source",
            "medium",
            "campaign",
            "term",
            "content",
            "channel",
            erase=Erase.DELETE_ROW,
        ),
        merge=Merge.REPOINT,
    ),
)
