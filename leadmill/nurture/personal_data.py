"""Nurture's rows of a contact's data (core's personal-data registry; format in docs/privacy.md)."""

from __future__ import annotations

from leadmill.core.personal_data import Erase, Link, Merge, PersonalData, columns

from .models import Enrollment

PERSONAL_DATA = (
    # One active enrolment per sequence: the survivor's stays, the merged lead's goes.
    PersonalData(
        model=Enrollment,
        links=(Link.foreign_key("contact"),),
        columns=columns(
            "sequence",
            "state",
            "step_id",
            "enrolled_at",
            "ended_at",
            "exit_reason",
            "source",
            erase=Erase.DELETE_ROW,
        ),
        merge=Merge.DROP_ON_CONFLICT,
    ),
)
