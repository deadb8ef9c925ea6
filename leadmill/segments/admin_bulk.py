"""Segments' bulk action on the leads listing: put the selected leads on a static list
(see :mod:`leadmill.contacts.admin_bulk`)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from leadmill.contacts.admin_bulk import LeadsToChosenBulkAction

from .models import Segment
from .services import segment_members_add


class StaticListForm(forms.Form):
    segment = forms.ModelChoiceField(
        label=_("Static list"),
        queryset=Segment.objects.filter(kind=Segment.Kind.STATIC).order_by("name"),
        empty_label=_("Choose a list"),
        error_messages={"required": _("Choose the static list to add the leads to.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.fields["segment"].queryset.exists():
            self.fields["segment"].help_text = _(
                "There is no static list yet: add a segment of the kind “Static list” first."
            )


class LeadsAddToListBulkAction(LeadsToChosenBulkAction):
    display_name = _("Add to list")
    action_type = "add_to_list"
    aria_label = _("Add the selected leads to a static list")
    action_priority = 20
    form_class = StaticListForm
    question = _("Add these leads to the static list below? Leads already on it stay as they are.")
    confirm_label = _("Add them")
    also_required = "segments.change_segment"
    chosen_field = "segment"

    @classmethod
    def run_on(cls, segment, *, contact_ids, actor) -> int:
        return segment_members_add(segment=segment, contact_ids=contact_ids)

    def chosen_message(self, *, changed, selected, chosen):
        return ngettext(
            "%(changed)s of %(selected)s lead added to “%(list)s” (the others were on it already).",
            "%(changed)s of %(selected)s leads added to “%(list)s” (the others were on it already).",
            selected,
        ) % {"changed": changed, "selected": selected, "list": chosen.name if chosen else ""}
