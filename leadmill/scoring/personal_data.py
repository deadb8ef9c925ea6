"""The scoring app's personal data: a lead's scores (core's registry; format in docs/privacy.md)."""

from __future__ import annotations

from leadmill.core.personal_data import Erase, Link, Merge, PersonalData, columns

from .models import ContactScore, ScoreAdjustment

PERSONAL_DATA = (
    # One score row per contact: the survivor's stays and the merged lead's goes; the
    # ContactsMerged handler then rescores the survivor from everything it now holds.
    PersonalData(
        model=ContactScore,
        links=(Link.foreign_key("contact"),),
        columns=columns(
            "fit_score",
            "engagement_score",
            "engagement_at",
            "intent_at",
            "predictive_probability",
            "updated_at",
            erase=Erase.DELETE_ROW,
        ),
        merge=Merge.DROP_ON_CONFLICT,
    ),
    PersonalData(
        model=ScoreAdjustment,
        links=(Link.foreign_key("contact"),),
        columns=columns("points", "reason", "occurred_at", erase=Erase.DELETE_ROW),
        merge=Merge.REPOINT,
    ),
)
