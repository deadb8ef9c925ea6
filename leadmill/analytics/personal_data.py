"""The analytics app's personal data (core's registry; docs/privacy.md).

The counts hold no one's data; a visitor's first view (:class:`.models.FirstVisit`) and its days
with a form (:class:`.models.FormBrowserDay`) are found by the visitor's ``lm_vid`` id. A lead's
stored rows and shares (:class:`.models.LeadRow`, :class:`.models.LeadShare`) and the fill's
notes (:class:`.models.JourneyChange`) name the lead by its id: an erasure or a merge notes the
days they counted in for the next fill, which counts them again (ADR 71).
"""

from __future__ import annotations

from leadmill.core.personal_data import Column, Erase, Export, Link, Merge, PersonalData

from .lead_days import erased_days_note, lead_rows_merge, lead_shares_merge
from .models import FirstVisit, FormBrowserDay, JourneyChange, LeadRow, LeadShare

DERIVED = (
    "computed by the fill from the lead's own rows (its creation, stage history, outcome and "
    "touches), which the export gives out"
)

PERSONAL_DATA = (
    # Erasure hashes the visitor id and blanks the URL at once; the erasure notes the day
    # (below), whose first visits the next fill writes again without the erased browser.
    PersonalData(
        model=FirstVisit,
        links=(Link.visitor("visitor_id"),),
        columns=(Column("visitor_id", erase=Erase.HASH), Column("url", erase=Erase.BLANK)),
        merge=None,  # found by the visitor id, which a merge does not change
    ),
    # Erasure hashes the visitor id at once; the next fill writes the day's rows again.
    PersonalData(
        model=FormBrowserDay,
        links=(Link.visitor("visitor_id"),),
        columns=(Column("visitor_id", erase=Erase.HASH),),
        merge=None,
    ),
    # A lead's rows of the daily counts. Before an erasure changes anything, every day the
    # erasure changes is noted (``erased_days_note``: these rows' days, and those of the
    # events and form posts it deletes or empties); then the rows go. A merge notes both
    # leads' days and the survivor, and deletes the loser's rows.
    PersonalData(
        model=LeadRow,
        links=(Link.contact_id("contact_id"),),
        columns=(Column("amount", export=Export.OMIT, erase=Erase.DELETE_ROW, reason=DERIVED),),
        merge=lead_rows_merge,
        before_erase=erased_days_note,
    ),
    # A lead's shares under the attribution models: deleted on erasure; on a merge the
    # loser's go and the survivor's are computed again from its merged journey.
    PersonalData(
        model=LeadShare,
        links=(Link.contact_id("contact_id"),),
        columns=(Column("created_at", export=Export.OMIT, erase=Erase.DELETE_ROW, reason=DERIVED),),
        merge=lead_shares_merge,
    ),
    # A note for the fill that a lead's days are to be counted again: deleted on erasure
    # (its days are noted as days, with no one's id); moved to the survivor on a merge.
    PersonalData(
        model=JourneyChange,
        links=(Link.contact_id("contact_id"),),
        columns=(
            Column(
                "noted_at",
                export=Export.OMIT,
                erase=Erase.DELETE_ROW,
                reason="a note for the fill, kept until its next run",
            ),
        ),
        merge=Merge.REPOINT,
    ),
)
