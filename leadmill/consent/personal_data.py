"""The consent app's personal data: the ledger rows (core's registry; format in docs/privacy.md).

The suppression list is not declared: it holds keyed hashes only, found by no contact, and it
outlives an erasure on purpose (ADR 0016).
"""

from __future__ import annotations

from leadmill.core.personal_data import Erase, Link, Merge, PersonalData, columns

from .models import Consent

PERSONAL_DATA = (
    PersonalData(
        model=Consent,
        links=(Link.foreign_key("contact"),),
        columns=columns(
            "purpose",
            "purpose_text",
            "granted",
            "method",
            "occurred_at",
            "form_id",
            "submission_id",
            "page_url",
            "ip_address",
            "user_agent",
            "awaiting_confirmation",
            erase=Erase.DELETE_ROW,
        ),
        merge=Merge.REPOINT,
    ),
)
