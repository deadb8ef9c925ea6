"""The api app's personal data (core's registry; format in docs/privacy.md).

An ``Idempotency-Key`` request keeps its answer for 24 hours, to replay it to a retry; the
answer of a lead endpoint holds that lead's data (name, email, …), so the row says which
lead (``contact_id``) and is declared here: a merge repoints it, erasure deletes it.
"""

from __future__ import annotations

from leadmill.core.personal_data import Column, Erase, Export, Link, Merge, PersonalData

from .models import IdempotentRequest

PERSONAL_DATA = (
    PersonalData(
        model=IdempotentRequest,
        links=(Link.contact_id("contact_id"),),
        columns=(
            Column(
                "response_body",
                export=Export.OMIT,
                erase=Erase.DELETE_ROW,
                reason="a copy, kept at most 24 hours for replays, of data the export gives "
                "from the lead's own rows",
            ),
        ),
        merge=Merge.REPOINT,
    ),
)
