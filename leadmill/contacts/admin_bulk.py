"""Bulk actions on the leads listing, on Wagtail's bulk-action framework.

A marketer ticks leads (or "all N that match" the listing's filters and search), picks an
action in the footer, confirms on a page that says how many leads it touches, and the action
calls the service of the app that owns it. The actions live in their apps, registered with
Wagtail's ``register_bulk_action`` hook, so contacts imports none of them (DESIGN.md layers):

* contacts (here): change the lifecycle stage, export;
* segments: add to a static list;
* nurture: enrol in a sequence;
* sales: assign an owner.

A selection of at most :data:`INLINE_LIMIT` leads is acted on before the answer; a larger
one is cut into chunks of :data:`CHUNK` ids, each a task (:func:`.tasks.leads_bulk_act`) that
looks the action up again by its type and runs it, so "all 80,000 that match" never holds
the request. The services are idempotent (a lead enrolled twice is enrolled once), so a
retried chunk does no harm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from django import forms
from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.views.bulk_action import BulkAction
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.permissions import ModelPermissionPolicy

from .admin_leads import LEADS_URL_NAMESPACE, lead_label, leads_matching, selected_lead_ids
from .models import Contact, LifecycleStage
from .services import contacts_stage_change

# Up to this many leads are acted on in the request; more go to background tasks.
INLINE_LIMIT = 500
# Lead ids per background task.
CHUNK = 1000
# Leads named on the confirmation page (the rest are counted).
SAMPLE = 10


class LeadBulkAction(PermissionCheckedMixin, BulkAction):
    """What every bulk action on leads shares: the selection (ticked ids or all that match),
    the confirmation page, and running in the request or in background chunks.

    A subclass names itself (``display_name``, ``action_type``, ``aria_label``), may ask
    for choices in ``form_class`` (turned into JSON-ready ``params`` by :meth:`params`),
    and implements :meth:`run` with the owning app's service and :meth:`done_message`.
    """

    models: ClassVar[list] = [Contact]
    permission_policy = ModelPermissionPolicy(Contact)
    permission_required = "change"
    template_name = "contacts/admin/bulk_confirm.html"
    # Shown on the confirmation page: what the action will do, and its button.
    question: ClassVar[Any] = ""
    confirm_label: ClassVar[Any] = _("Yes, go ahead")
    serious: ClassVar[bool] = False
    # A permission of the owning app the user needs as well ("nurture.change_sequence").
    also_required: ClassVar[str] = ""

    @classmethod
    def offered_to(cls, user) -> bool:
        """Whether the listing's footer shows this action to the user (the view checks again)."""
        return cls.permission_policy.user_has_permission(user, cls.permission_required) and (
            not cls.also_required or user.has_perm(cls.also_required)
        )

    def __init__(self, request, model):
        super().__init__(request, model)
        if self.next_url == request.path:  # no "next": back to the listing, not here again
            self.next_url = reverse(f"{LEADS_URL_NAMESPACE}:index")

    def user_has_permission(self, permission):
        return super().user_has_permission(permission) and (
            not self.also_required or self.request.user.has_perm(self.also_required)
        )

    # --- what a subclass provides --------------------------------------------------------

    @classmethod
    def run(cls, *, contact_ids: Sequence[int], params: Mapping[str, Any], actor) -> int:
        """Act on these leads with the owning app's service; return how many changed."""
        raise NotImplementedError

    def params(self, cleaned_data: Mapping[str, Any]) -> dict[str, Any]:
        """The form's choices as plain values (ids, codes), for a task to carry."""
        return {}

    def done_message(self, *, changed: int, selected: int, params: Mapping[str, Any]) -> str:
        return ngettext(
            "%(changed)s of %(selected)s lead changed.",
            "%(changed)s of %(selected)s leads changed.",
            selected,
        ) % {"changed": changed, "selected": selected}

    def queued_message(self, *, selected: int, params: Mapping[str, Any]) -> str:
        return ngettext(
            "%(selected)s lead is being changed in the background.",
            "%(selected)s leads are being changed in the background; "
            "reload the listing in a minute to see them.",
            selected,
        ) % {"selected": f"{selected:,}"}

    # --- the selection --------------------------------------------------------------------

    def selected(self) -> QuerySet[Contact]:
        """The leads ticked, or all that match the listing's filters and search."""
        if "all" in self.request.GET.getlist("id"):
            return leads_matching(self.request.GET, request=self.request)
        return Contact.objects.filter(pk__in=selected_lead_ids(self.request.GET))

    def get_context_data(self, **kwargs):
        context = FormView.get_context_data(self, **kwargs)
        selected = self.selected()
        count = selected.count()
        sample = list(selected.select_related(None).order_by("-created_at", "-id")[:SAMPLE])
        context.update(
            action=self,
            count=count,
            sample=[
                (lead_label(contact), reverse(f"{LEADS_URL_NAMESPACE}:inspect", args=[contact.pk]))
                for contact in sample
            ],
            more=count - len(sample),
            background=count > INLINE_LIMIT,
            next=self.next_url,
            submit_url=self.request.path + "?" + self.request.META["QUERY_STRING"],
            model_opts=Contact._meta,
        )
        return context

    def form_valid(self, form):
        params = self.params(form.cleaned_data)
        ids = list(self.selected().order_by("pk").values_list("pk", flat=True))
        if not ids:
            messages.warning(self.request, _("No lead is selected any more: nothing was done."))
            return redirect(self.next_url)
        if len(ids) <= INLINE_LIMIT:
            changed = self.run(contact_ids=ids, params=params, actor=self.request.user)
            messages.success(
                self.request, self.done_message(changed=changed, selected=len(ids), params=params)
            )
        else:
            leads_bulk_queue(
                action_type=self.action_type,
                contact_ids=ids,
                params=params,
                actor_id=self.request.user.pk,
            )
            messages.success(self.request, self.queued_message(selected=len(ids), params=params))
        return redirect(self.next_url)


class LeadsToChosenBulkAction(LeadBulkAction):
    """A bulk action that takes the leads to one row the person picks in the form's
    ``chosen_field`` (a ``ModelChoiceField``): a sequence to enrol them in, a static list to
    add them to, an owner to give them.

    The row travels in ``params`` as ``<chosen_field>_id`` and is looked up again when the
    action runs (a background chunk may run later): a row gone since the person confirmed
    changes nobody. A subclass names ``chosen_field`` and implements :meth:`run_on` and
    :meth:`chosen_message`.
    """

    chosen_field: ClassVar[str] = ""

    @classmethod
    def chosen_key(cls) -> str:
        return f"{cls.chosen_field}_id"

    @classmethod
    def chosen(cls, params: Mapping[str, Any]):
        """The row picked, among those the form offers (so one since made unfit, such as a
        deactivated user, is not used), or None."""
        field = cls.form_class.base_fields[cls.chosen_field]
        return field.queryset.filter(pk=params[cls.chosen_key()]).first()

    def params(self, cleaned_data):
        return {self.chosen_key(): cleaned_data[self.chosen_field].pk}

    @classmethod
    def run(cls, *, contact_ids, params, actor) -> int:
        chosen = cls.chosen(params)
        if chosen is None:  # deleted (or made unfit) since the person confirmed
            return 0
        return cls.run_on(chosen, contact_ids=contact_ids, actor=actor)

    @classmethod
    def run_on(cls, chosen, *, contact_ids: Sequence[int], actor) -> int:
        """Act on these leads with the owning app's service and the row picked; return how
        many changed."""
        raise NotImplementedError

    def done_message(self, *, changed, selected, params):
        return self.chosen_message(changed=changed, selected=selected, chosen=self.chosen(params))

    def chosen_message(self, *, changed: int, selected: int, chosen) -> str:
        """What was done, naming the row picked (None when it is gone)."""
        raise NotImplementedError


def leads_bulk_queue(
    *, action_type: str, contact_ids: Sequence[int], params: Mapping[str, Any], actor_id: int
) -> int:
    """Queue the action over these leads, :data:`CHUNK` ids a task, once the request's
    transaction commits. Returns how many tasks were queued."""
    from .tasks import leads_bulk_act  # tasks look actions up here: import when queueing

    chunks = [contact_ids[start : start + CHUNK] for start in range(0, len(contact_ids), CHUNK)]
    for chunk in chunks:
        transaction.on_commit(
            lambda chunk=chunk: leads_bulk_act(
                action_type=action_type,
                contact_ids=list(chunk),
                params=dict(params),
                actor_id=actor_id,
            )
        )
    return len(chunks)


# --- contacts' own actions -------------------------------------------------------------------


class StageForm(forms.Form):
    to_stage = forms.ChoiceField(label=_("Move to stage"), choices=LifecycleStage.choices)


class LeadsStageChangeBulkAction(LeadBulkAction):
    display_name = _("Change stage")
    action_type = "change_stage"
    aria_label = _("Move the selected leads to another lifecycle stage")
    action_priority = 40
    form_class = StageForm
    question = _(
        "Move these leads to the lifecycle stage below? Each change joins the lead's stage history."
    )
    confirm_label = _("Move them")

    def params(self, cleaned_data):
        return {"to_stage": cleaned_data["to_stage"]}

    @classmethod
    def run(cls, *, contact_ids, params, actor) -> int:
        who = actor.get_username() if actor is not None else "?"
        cause = f"changed in bulk in the back office ({who})"[:200]
        moves = {pk: (params["to_stage"], cause) for pk in contact_ids}
        return len(contacts_stage_change(moves=moves))

    def done_message(self, *, changed, selected, params):
        return ngettext(
            "%(changed)s of %(selected)s lead moved to “%(stage)s” (the others were there already).",
            "%(changed)s of %(selected)s leads moved to “%(stage)s” (the others were there already).",
            selected,
        ) % {
            "changed": changed,
            "selected": selected,
            "stage": LifecycleStage(params["to_stage"]).label,
        }


class LeadsExportBulkAction(LeadBulkAction):
    """Export the selected leads with the listing's own export (the same columns, scores
    included): straight to the CSV download, nothing to confirm."""

    display_name = _("Export")
    action_type = "export"
    aria_label = _("Download the selected leads as a CSV file")
    action_priority = 50
    permission_required = "view"

    def get(self, request, *args, **kwargs):
        if "all" not in request.GET.getlist("id") and not selected_lead_ids(request.GET):
            # Without a selection the listing's export would hold every lead.
            messages.warning(request, _("Tick the leads to export first."))
            return redirect(self.next_url)
        params = request.GET.copy()
        for name in ("next", "p"):
            params.pop(name, None)
        if "all" in params.getlist("id"):
            params.pop("id")
        params["export"] = "csv"
        return redirect(
            reverse(f"{LEADS_URL_NAMESPACE}:index") + "?" + urlencode(params, doseq=True)
        )

    def post(self, request, *args, **kwargs):
        return self.get(request, *args, **kwargs)
