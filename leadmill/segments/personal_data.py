"""Segments' rows of a contact's data (core's personal-data registry; format in docs/privacy.md)."""

from __future__ import annotations

from leadmill.core.personal_data import Erase, Link, Merge, PersonalData, columns

from .models import SegmentEntry, SegmentMember

PERSONAL_DATA = (
    # One membership (and one entry) per segment: the survivor's stays.
    PersonalData(
        model=SegmentMember,
        links=(Link.foreign_key("contact"),),
        columns=columns("segment", "added_at", erase=Erase.DELETE_ROW),
        merge=Merge.DROP_ON_CONFLICT,
    ),
    PersonalData(
        model=SegmentEntry,
        links=(Link.foreign_key("contact"),),
        columns=columns("segment", "entered_at", erase=Erase.DELETE_ROW),
        merge=Merge.DROP_ON_CONFLICT,
    ),
)
