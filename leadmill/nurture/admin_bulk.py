"""Nurture's bulk action on the leads listing: enrol the selected leads in a sequence
(see :mod:`leadmill.contacts.admin_bulk`)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from leadmill.contacts.admin_bulk import LeadsToChosenBulkAction

from .models import Sequence
from .services import enrollments_start_bulk
from .tasks import nurture_kick_after_commit


class SequenceForm(forms.Form):
    sequence = forms.ModelChoiceField(
        label=_("Sequence"),
        queryset=Sequence.objects.order_by("-is_active", "name"),
        empty_label=_("Choose a sequence"),
        error_messages={"required": _("Choose the sequence to enrol the leads in.")},
        help_text=_(
            "Leads enrolled already, or whom the sequence's re-enrolment rule or exit stages "
            "keep out, are left as they are."
        ),
    )


class LeadsEnrolBulkAction(LeadsToChosenBulkAction):
    display_name = _("Enrol in sequence")
    action_type = "enrol"
    aria_label = _("Enrol the selected leads in a nurture sequence")
    action_priority = 10
    form_class = SequenceForm
    question = _("Enrol these leads in the sequence below? Its first step is due at once.")
    confirm_label = _("Enrol them")
    also_required = "nurture.change_sequence"
    chosen_field = "sequence"

    @classmethod
    def run_on(cls, sequence, *, contact_ids, actor) -> int:
        who = actor.get_username() if actor is not None else "?"
        enrolled = enrollments_start_bulk(
            sequence=sequence, contact_ids=contact_ids, source=f"back office, in bulk ({who})"
        )
        if enrolled:
            nurture_kick_after_commit()
        return enrolled

    def chosen_message(self, *, changed, selected, chosen):
        text = ngettext(
            "%(changed)s of %(selected)s lead enrolled in “%(sequence)s” (the others are or were enrolled already).",
            "%(changed)s of %(selected)s leads enrolled in “%(sequence)s” (the others are or were enrolled already).",
            selected,
        ) % {"changed": changed, "selected": selected, "sequence": chosen or ""}
        if chosen is not None and not chosen.is_active:
            text += " " + str(_("The sequence is not active: nobody moves until you activate it."))
        return text
