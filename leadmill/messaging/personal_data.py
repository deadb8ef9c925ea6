"""The messaging app's personal data (core's registry; format in docs/privacy.md)."""

from __future__ import annotations

from leadmill.core.personal_data import Erase, Link, Merge, PersonalData, columns

from .models import Message, OutboxMessage

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
    # The message log, marketing and transactional: one message per broadcast and contact (the
    # survivor's copy stays).
    PersonalData(
        model=Message,
        links=(Link.foreign_key("contact"),),
        columns=columns(
            "to_email",
            "subject",
            "body_html",
            "body_text",
            "headers",
            "template",
            "broadcast_id",
            "enrollment_id",
            "status",
            "created_at",
            "sent_at",
            "opened_at",
            "clicked_at",
            erase=Erase.DELETE_ROW,
        ),
        merge=Merge.DROP_ON_CONFLICT,
    ),
)
