"""The contacts app's personal data: the contact itself and its rows (core's registry).

Registered by :class:`.apps.ContactsConfig`; the format is in docs/privacy.md.
"""

from __future__ import annotations

from leadmill.core.personal_data import Erase, Link, Merge, PersonalData, columns

from .models import Contact, ContactMerge, PossibleDuplicate, StageChange
from .services import possible_duplicates_merge

PERSONAL_DATA = (
    # The subject: contact_merge merges its fields by its own rules; erasure deletes the row,
    # which takes every row declared with on_delete=CASCADE with it.
    PersonalData(
        model=Contact,
        links=(Link.subject(), Link.email("email"), Link.phone("phone")),
        columns=(
            *columns(
                "email",
                "phone",
                "first_name",
                "last_name",
                "company_name",
                "role",
                "company_size",
                "segment",
                "country",
                "country_as_written",
                "time_zone",
                "language",
                "custom",
                "lifecycle_stage",
                "temperature",
                "owner",
                "first_source",
                "first_medium",
                "first_campaign",
                "first_referrer",
                "first_landing_url",
                "first_touch_at",
                "last_source",
                "last_medium",
                "last_campaign",
                "last_referrer",
                "last_landing_url",
                "last_touch_at",
                "outcome",
                "outcome_value",
                "outcome_at",
                "outcome_reason",
                "created_at",
                erase=Erase.DELETE_ROW,
            ),
        ),
    ),
    PersonalData(
        model=StageChange,
        links=(Link.foreign_key("contact"),),
        columns=columns("from_stage", "to_stage", "changed_at", "cause", erase=Erase.DELETE_ROW),
        merge=Merge.REPOINT,
    ),
    # The merged contact's data as it was: the audit of a merge, given out and erased with the
    # person it now belongs to.
    PersonalData(
        model=ContactMerge,
        links=(Link.foreign_key("survivor"),),
        columns=columns("merged_data", "merged_at", erase=Erase.DELETE_ROW),
        merge=Merge.REPOINT,
    ),
    # A pair under review holds nothing but its two links: the merged pair is resolved, the
    # others' pairs move to the survivor, twins go.
    PersonalData(
        model=PossibleDuplicate,
        links=(Link.foreign_key("contact"), Link.foreign_key("other")),
        merge=possible_duplicates_merge,
    ),
)
