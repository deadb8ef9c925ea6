"""The sales app's personal data: the hand-off to sales and its activities (core's registry;
format in docs/privacy.md)."""

from __future__ import annotations

from leadmill.core.personal_data import Erase, Link, Merge, PersonalData, columns

from .models import Activity, OwnerNotification, SalesLead

PERSONAL_DATA = (
    # One sales lead per contact: the survivor's (its owner, status and clock) stays.
    PersonalData(
        model=SalesLead,
        links=(Link.foreign_key("contact"),),
        columns=columns(
            "owner",
            "status",
            "mql_at",
            "assigned_at",
            "first_activity_at",
            "disqualify_reason",
            "closed_at",
            erase=Erase.DELETE_ROW,
        ),
        merge=Merge.DROP_ON_CONFLICT,
    ),
    PersonalData(
        model=Activity,
        links=(Link.foreign_key("contact"),),
        columns=columns(
            "user",
            "kind",
            "subject",
            "body",
            "occurred_at",
            "due_at",
            "done",
            erase=Erase.DELETE_ROW,
        ),
        merge=Merge.REPOINT,
    ),
    # Who was told about a sequence's notify-owner step; unique per request, not per contact.
    PersonalData(
        model=OwnerNotification,
        links=(Link.foreign_key("contact"),),
        columns=columns(
            "enrollment_id", "step_id", "requested_at", "owner", "sent_at", erase=Erase.DELETE_ROW
        ),
        merge=Merge.REPOINT,
    ),
)
