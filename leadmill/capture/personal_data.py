"""The capture app's personal data: submissions (core's registry; format in docs/privacy.md)."""

from __future__ import annotations

from leadmill.core.personal_data import Column, Erase, Link, Merge, PersonalData, columns

from .models import EventReminder, Exposure, Submission

PERSONAL_DATA = (
    # Erasure blanks what the person sent and keeps the row (its form, status and time), so
    # a form's submission counts stay right; the contact link goes with the contact.
    PersonalData(
        model=Submission,
        links=(Link.foreign_key("contact"), Link.visitor("visitor_id")),
        columns=(
            *columns(
                "data",
                "values",
                "errors",
                "page_url",
                "referrer",
                "ip_address",
                "user_agent",
                "visitor_id",
            ),
            *(
                Column(
                    name,
                    erase=Erase.KEEP,
                    reason="the campaign of the link followed, kept for the source counts",
                )
                for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
            ),
            Column(
                "created_at",
                erase=Erase.KEEP,
                reason="when the form was posted, kept for the form's counts",
            ),
        ),
        merge=Merge.REPOINT,
    ),
    # An A/B test exposure names its visitor by the ``lm_vid`` id (or a keyed hash of the
    # address and browser): erasure hashes it, so the test's counts stay right.
    PersonalData(
        model=Exposure,
        links=(Link.visitor("visitor_key"),),
        columns=(Column("visitor_key", erase=Erase.HASH),),
        merge=None,  # found by the visitor id, which a merge does not change
    ),
    # A webinar reminder claimed for the contact: merged, the survivor keeps its own claim.
    PersonalData(
        model=EventReminder,
        links=(Link.foreign_key("contact"),),
        columns=columns("event", "hours_before", "created_at", erase=Erase.DELETE_ROW),
        merge=Merge.DROP_ON_CONFLICT,
    ),
)
