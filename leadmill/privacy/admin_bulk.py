"""Privacy's bulk action on the leads listing: erase the selected leads (see
:mod:`leadmill.contacts.admin_bulk`). The lead page's "⋯" menu "Delete" opens the same
confirmation with that one lead selected (:mod:`.wagtail_hooks`)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from leadmill.contacts.admin_bulk import LeadBulkAction
from leadmill.core.errors import NotFound

from .models import ErasureRecord
from .services import contact_erase

ERASE_PERMISSION = "privacy.erase_contact"


class ErasureReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=500,
        help_text=_(
            "Kept in the erasure record, e.g. “request by email of 7 December”. "
            "Do not name the person: the record must hold none of their data."
        ),
    )


class LeadsEraseBulkAction(LeadBulkAction):
    display_name = _("Delete (erase)")
    action_type = "erase"
    aria_label = _("Erase the selected leads and their personal data")
    action_priority = 90
    form_class = ErasureReasonForm
    question = _(
        "Erase these leads? Each lead and its personal data (form posts, consents, visits, "
        "emails, scores, sales work, list and sequence memberships) are erased; its email "
        "address is put on the suppression list, so it is never emailed again; a record of "
        "the erasure (when, by whom, how many rows) is kept without the person’s data. "
        "This cannot be undone."
    )
    confirm_label = _("Yes, erase them")
    serious = True
    also_required = ERASE_PERMISSION

    def params(self, cleaned_data):
        return {"reason": cleaned_data.get("reason", "")}

    @classmethod
    def run(cls, *, contact_ids, params, actor) -> int:
        erased = 0
        for contact_id in contact_ids:  # one transaction per lead: each is erased whole or not
            try:
                contact_erase(
                    contact_id=contact_id,
                    by=actor,
                    reason=params.get("reason", ""),
                    via=ErasureRecord.Via.BACK_OFFICE,
                )
            except NotFound:  # erased or merged away since the confirmation
                continue
            erased += 1
        return erased

    def done_message(self, *, changed, selected, params):
        return ngettext(
            "%(changed)s of %(selected)s lead erased; its address is suppressed.",
            "%(changed)s of %(selected)s leads erased; their addresses are suppressed.",
            selected,
        ) % {"changed": changed, "selected": selected}

    def queued_message(self, *, selected, params):
        return ngettext(
            "%(selected)s lead is being erased in the background.",
            "%(selected)s leads are being erased in the background; "
            "reload the listing in a minute to see them gone.",
            selected,
        ) % {"selected": f"{selected:,}"}
