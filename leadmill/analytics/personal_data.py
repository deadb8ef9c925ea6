"""The analytics app's personal data (core's registry; docs/privacy.md).

The counts hold no one's data; a visitor's first view (:class:`.models.FirstVisit`) and its days
with a form (:class:`.models.FormBrowserDay`) are found by the visitor's ``lm_vid`` id.
"""

from __future__ import annotations

from leadmill.core.personal_data import Column, Erase, Link, PersonalData

from .models import FirstVisit, FormBrowserDay

PERSONAL_DATA = (
    # Erasure hashes the visitor id, so "new visitors" of past days keep their count, and
    # blanks the URL: that one visit is no longer credited to a landing page.
    PersonalData(
        model=FirstVisit,
        links=(Link.visitor("visitor_id"),),
        columns=(Column("visitor_id", erase=Erase.HASH), Column("url", erase=Erase.BLANK)),
        merge=None,  # found by the visitor id, which a merge does not change
    ),
    # Erasure hashes the visitor id: the form's past starts, drop-offs and times keep their
    # count (the same hash on each of its days, so it stays one browser over a period).
    PersonalData(
        model=FormBrowserDay,
        links=(Link.visitor("visitor_id"),),
        columns=(Column("visitor_id", erase=Erase.HASH),),
        merge=None,
    ),
)
