"""The messaging app's personal data (core's registry; format in docs/privacy.md)."""

from __future__ import annotations

from leadmill.core.personal_data import Erase, Link, PersonalData, columns

from .models import OutboxMessage

PERSONAL_DATA = (
    # The embedded outbox keeps what was sent, found by the recipients' addresses (``to`` holds
    # them as "a@example.com, b@example.com"); nothing to move on merge.
    PersonalData(
        model=OutboxMessage,
        links=(Link.email("to"),),
        columns=columns(
            "to",
            "subject",
            "text_body",
            "html_body",
            "headers",
            "created_at",
            erase=Erase.DELETE_ROW,
        ),
    ),
)
