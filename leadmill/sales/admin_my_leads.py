"""Back-office screens of sales: "My leads" and its quick actions. Wired in ``wagtail_hooks.py``.

The actions are POST forms (CSRF-checked by Django's middleware) that call one service
each and come back to the listing with a message; a service's domain error becomes that
message. A rep acts on the leads they own; Admin (who may change assignment rules) on any.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.permissions import ModelPermissionPolicy

from leadmill.contacts.models import Contact, Outcome
from leadmill.core.admin_viewsets import TitledAdminViewMixin
from leadmill.core.errors import DomainError

from . import selectors, services
from .models import ActivityKind, LeadStatus, SalesLead

MY_LEADS_URL_NAME = "sales_my_leads"
LEAD_ACTION_URL_NAME = "sales_lead_action"
CONTACT_ACTIVITY_URL_NAME = "sales_contact_activity"


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Log"), choices=ActivityKind.choices, initial=ActivityKind.CALL
    )
    subject = forms.CharField(label=_("Subject"), max_length=200, required=False)
    body = forms.CharField(
        label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    due_at = forms.DateTimeField(
        label=_("Due (tasks)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[c for c in LeadStatus.choices if c[0] != LeadStatus.DISQUALIFIED],
    )


class DisqualifyForm(forms.Form):
    reason = forms.CharField(label=_("Why"), max_length=200)


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[(Outcome.WON, _("Won")), (Outcome.LOST, _("Lost"))]
    )
    value = forms.DecimalField(
        label=_("Value"), max_digits=14, decimal_places=2, min_value=0, required=False
    )
    date = forms.DateField(
        label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(label=_("Reason (lost)"), max_length=200, required=False)


def may_act_on(user, lead: SalesLead) -> bool:
    if not ModelPermissionPolicy(SalesLead).user_has_permission(user, "change"):
        return False
    return lead.owner_id == user.pk or user.has_perm("sales.change_assignmentrule")


def may_log_on(user, contact: Contact) -> bool:
    """Whether ``user`` may log an activity on ``contact``: its owner (or its sales lead's),
    or Admin (who may change assignment rules), with the sales permission."""
    if not ModelPermissionPolicy(SalesLead).user_has_permission(user, "change"):
        return False
    if user.has_perm("sales.change_assignmentrule") or contact.owner_id == user.pk:
        return True
    lead = getattr(contact, "sales_lead", None)
    return lead is not None and lead.owner_id == user.pk


def duration_text(duration: dt.timedelta | None) -> str:
    """ "2 h 05 min", "40 min", "3 d 4 h": a speed-to-lead a person reads at a glance."""
    if duration is None:
        return ""
    minutes = max(int(duration.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}


def _row_forms(contact_pk: int) -> dict[str, forms.Form]:
    """The quick-action forms of one row, with ids of their own (one page holds many rows)."""
    auto_id = f"id_lead{contact_pk}_%s"
    return {
        "activity": ActivityForm(auto_id=auto_id),
        "status": StatusForm(auto_id=auto_id),
        "disqualify": DisqualifyForm(auto_id=auto_id),
        "outcome": OutcomeForm(auto_id=auto_id),
    }


class MyLeadsView(
    PermissionCheckedMixin, TitledAdminViewMixin, WagtailAdminTemplateMixin, TemplateView
):
    """Every lead the signed-in rep owns that needs them (see
    :func:`.selectors.leads_open_for`), hottest first, each with why and quick actions."""

    permission_policy = ModelPermissionPolicy(SalesLead)
    permission_required = "view"
    template_name = "sales/admin/my_leads.html"
    page_title = _("My leads")
    header_icon = "user"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        include_closed = self.request.GET.get("closed") == "1"
        contacts = list(
            selectors.leads_open_for(user=self.request.user, include_closed=include_closed)
        )
        now = timezone.now()
        rows = []
        for contact in contacts:
            lead = getattr(contact, "sales_lead", None)
            urls = {"log": reverse(CONTACT_ACTIVITY_URL_NAME, args=[contact.pk])}
            if lead is not None:
                urls.update(
                    {
                        action: reverse(LEAD_ACTION_URL_NAME, args=[lead.pk, action])
                        for action in ("activity", "status", "accept", "disqualify", "outcome")
                    }
                )
            rows.append(
                {
                    "lead": lead,
                    "contact": contact,
                    "reasons": selectors.lead_reasons(contact=contact),
                    "overdue": lead is not None
                    and lead.first_activity_at is None
                    and lead.closed_at is None
                    and lead.sla_due_at < now,
                    "speed": duration_text(lead.speed_to_lead) if lead is not None else "",
                    "forms": _row_forms(contact.pk),
                    "urls": urls,
                }
            )
        context.update(rows=rows, table_id="my-leads", include_closed=include_closed)
        return context


class LeadActionView(View):
    """POST one quick action on a lead: activity, status, accept, disqualify or outcome."""

    http_method_names = ["post"]

    def post(self, request, pk: int, action: str):
        lead = get_object_or_404(SalesLead.objects.select_related("contact"), pk=pk)
        if not may_act_on(request.user, lead):
            raise PermissionDenied
        handler = getattr(self, f"do_{action}", None)
        if handler is None:
            raise PermissionDenied
        try:
            message = handler(request, lead)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            if message:
                messages.success(request, message)
        return redirect(reverse(MY_LEADS_URL_NAME))

    @staticmethod
    def _invalid(request, form) -> None:
        _form_errors(request, form)

    def do_activity(self, request, lead):
        return activity_log_posted(request, lead.contact)

    def do_status(self, request, lead):
        form = StatusForm(request.POST)
        if not form.is_valid():
            return self._invalid(request, form)
        services.lead_status_set(lead=lead, status=form.cleaned_data["status"], user=request.user)
        return _("Status of “%(lead)s”: %(status)s.") % {
            "lead": lead.contact,
            "status": lead.get_status_display(),
        }

    def do_accept(self, request, lead):
        services.lead_accept(lead=lead, user=request.user)
        return _("Accepted “%(lead)s”: it is a sales qualified lead now.") % {"lead": lead.contact}

    def do_disqualify(self, request, lead):
        form = DisqualifyForm(request.POST)
        if not form.is_valid():
            return self._invalid(request, form)
        services.lead_disqualify(lead=lead, user=request.user, reason=form.cleaned_data["reason"])
        return _("Disqualified “%(lead)s”.") % {"lead": lead.contact}

    def do_outcome(self, request, lead):
        form = OutcomeForm(request.POST)
        if not form.is_valid():
            return self._invalid(request, form)
        day = form.cleaned_data["date"]
        # Noon of the chosen day: the date stays the same in any time zone the team works in.
        at = timezone.make_aware(dt.datetime.combine(day, dt.time(12))) if day else None
        services.outcome_record(
            lead=lead,
            user=request.user,
            outcome=form.cleaned_data["outcome"],
            value=form.cleaned_data["value"],
            at=at,
            reason=form.cleaned_data["reason"],
        )
        if form.cleaned_data["outcome"] == Outcome.WON:
            return _("Won “%(lead)s”: it is a customer now.") % {"lead": lead.contact}
        return _("Recorded “%(lead)s” as lost.") % {"lead": lead.contact}


def _form_errors(request, form) -> None:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))


def activity_log_posted(request, contact: Contact) -> str | None:
    """Log the activity posted in ``request`` on ``contact``; the success message, or None
    after putting the form's errors in messages."""
    form = ActivityForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return None
    activity = services.activity_log(
        contact=contact,
        user=request.user,
        kind=form.cleaned_data["kind"],
        subject=form.cleaned_data["subject"],
        body=form.cleaned_data["body"],
        due_at=form.cleaned_data["due_at"],
    )
    return _("%(kind)s logged on “%(lead)s”.") % {
        "kind": activity.get_kind_display(),
        "lead": contact,
    }


class ContactActivityView(View):
    """POST: log a call, email, meeting, note or task on a lead, from its page or from a
    "My leads" row of a lead not handed to sales yet; back to ``next`` (a back-office
    address) or "My leads"."""

    http_method_names = ["post"]

    def post(self, request, pk: int):
        contact = get_object_or_404(Contact.objects.select_related("sales_lead"), pk=pk)
        if not may_log_on(request.user, contact):
            raise PermissionDenied
        try:
            message = activity_log_posted(request, contact)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            if message:
                messages.success(request, message)
        back = request.POST.get("next", "")
        if not (
            back.startswith("/")
            and url_has_allowed_host_and_scheme(
                back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            )
        ):
            back = reverse(MY_LEADS_URL_NAME)
        return redirect(back)
