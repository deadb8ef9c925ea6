"""Sales' bulk action on the leads listing: give the selected leads an owner
(see :mod:`leadmill.contacts.admin_bulk`)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from leadmill.contacts.admin_bulk import LeadsToChosenBulkAction
from leadmill.contacts.models import Contact

from .services import lead_owner_set


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


class OwnerForm(forms.Form):
    owner = OwnerChoiceField(
        label=_("Owner"),
        queryset=get_user_model().objects.filter(is_active=True).order_by("first_name", "username"),
        empty_label=_("Choose a person"),
        error_messages={"required": _("Choose who will own the leads.")},
        help_text=_("Each new owner is emailed that the lead is theirs, as when rules assign it."),
    )


class LeadsOwnerAssignBulkAction(LeadsToChosenBulkAction):
    display_name = _("Assign owner")
    action_type = "assign_owner"
    aria_label = _("Give the selected leads an owner")
    action_priority = 30
    form_class = OwnerForm
    question = _("Give these leads the owner below? Leads that have another owner change hands.")
    confirm_label = _("Assign them")
    chosen_field = "owner"

    @classmethod
    def run_on(cls, owner, *, contact_ids, actor) -> int:
        changed = 0
        for contact in Contact.objects.filter(pk__in=contact_ids).exclude(owner=owner):
            lead_owner_set(contact=contact, owner=owner, actor=actor)
            changed += 1
        return changed

    def chosen_message(self, *, changed, selected, chosen):
        owner = (chosen.get_full_name() or chosen.get_username()) if chosen else ""
        return ngettext(
            "%(changed)s of %(selected)s lead now owned by %(owner)s (the others were theirs already).",
            "%(changed)s of %(selected)s leads now owned by %(owner)s (the others were theirs already).",
            selected,
        ) % {"changed": changed, "selected": selected, "owner": owner}
