"""Back-office views of contacts: the leads listing and detail page, and the review of
possible duplicates. The screens are wired in ``wagtail_hooks.py``.

Two Wagtail hooks let apps above contacts add to these screens without contacts importing
them (DESIGN.md layers):

``leadmill_lead_detail_panels``
    ``fn(request, contact) -> LeadDetailPanel | list[LeadDetailPanel] | None``: a part of
    the lead's detail page (consent adds the consent state and ledger).
``leadmill_lead_listing_filters``
    ``fn() -> dict[str, django_filters.Filter]``: extra filters of the leads listing
    (capture adds "form").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import django_filters
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import TemplateView
from wagtail import hooks
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.ui.tables import TitleColumn
from wagtail.admin.views.generic import EditView, IndexView, InspectView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.widgets import HeaderButton
from wagtail.log_actions import log
from wagtail.permissions import ModelPermissionPolicy

from leadmill.core.errors import DomainError, ValidationFailed
from leadmill.core.registry import contact_timeline
from leadmill.core.text import text_for_export

from . import selectors
from .identity import email_normalise, phone_normalise
from .models import Contact, LifecycleStage, PossibleDuplicate
from .services import (
    contact_merge,
    contact_stage_change,
    contact_update,
    possible_duplicate_dismiss,
)

LEAD_DETAIL_PANELS_HOOK = "leadmill_lead_detail_panels"
LEAD_LISTING_FILTERS_HOOK = "leadmill_lead_listing_filters"

LEADS_URL_NAMESPACE = "leads"
DUPLICATES_URL_NAMESPACE = "lead_duplicates"


# --- Pieces shared by the back-office screens of every app ------------------------------------


class LimitedPermissionPolicy(ModelPermissionPolicy):
    """Model permissions, minus the actions a screen does not offer.

    ``LimitedPermissionPolicy(Submission, actions={"view"})`` makes a read-only screen: no
    add, edit or delete buttons, and those URLs are refused, whatever the user's group has.
    """

    def __init__(self, model, *, actions: set[str]):
        super().__init__(model)
        self.actions = frozenset(actions)

    def user_has_permission(self, user, action):
        return action in self.actions and super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def users_with_any_permission(self, actions):
        return super().users_with_any_permission([a for a in actions if a in self.actions])


class ExportRowFailed(Exception):
    """A row of an export could not be written. Says which row and what kind of error,
    never the cell's value: cells hold personal data, and this reaches the log."""


class SafeSpreadsheetExportMixin:
    """The one way Leadmill exports a listing (CSV and XLSX): every cell through
    :func:`leadmill.core.text.text_for_export`, whatever the column.

    Exports never break on what is stored: rows written by older versions may hold control
    characters an XLSX cell cannot take (openpyxl refuses them) or lone surrogates a CSV
    cannot encode; they are written as U+FFFD. A value a spreadsheet would run as a formula
    (``=HYPERLINK(…)``, OWASP "CSV injection") gets a leading apostrophe; phone numbers and
    signed numbers ("+5511…", "-3") are left as they are. Should a row still fail, the
    error names the row, not its values (no personal data in logs).
    """

    def preprocess_field_value(self, field, value, export_format):
        return text_for_export(super().preprocess_field_value(field, value, export_format))

    def write_csv_row(self, writer, row_dict):
        row = self._export_row_next()
        try:
            return super().write_csv_row(writer, row_dict)
        except Exception as exc:
            raise ExportRowFailed(_row_failed_message(row, exc)) from None

    def generate_xlsx_row(self, worksheet, row_dict, date_format=None):
        row = self._export_row_next()
        try:
            yield from super().generate_xlsx_row(worksheet, row_dict, date_format=date_format)
        except Exception as exc:
            raise ExportRowFailed(_row_failed_message(row, exc)) from None

    def _export_row_next(self) -> int:
        self._export_rows = getattr(self, "_export_rows", 0) + 1
        return self._export_rows


def _row_failed_message(row: int, exc: Exception) -> str:
    return f"row {row} of the export (after the heading) could not be written: {type(exc).__name__}"


@dataclasses.dataclass(frozen=True)
class LeadDetailPanel:
    """A titled table on the lead's detail page, contributed through the hook."""

    heading: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    empty_message: str = ""
    order: int = 100


def lead_detail_panels(request, contact: Contact) -> list[LeadDetailPanel]:
    """Every app's panels for the lead's page, in their order."""
    panels: list[LeadDetailPanel] = []
    for hook in hooks.get_hooks(LEAD_DETAIL_PANELS_HOOK):
        result = hook(request, contact)
        if isinstance(result, LeadDetailPanel):
            panels.append(result)
        elif result:
            panels.extend(result)
    return sorted(panels, key=lambda panel: panel.order)


# --- Leads: listing, detail, edit ---------------------------------------------------------------


def lead_label(contact: Contact) -> str:
    """How a lead is named in listings: its name and email, or what it has."""
    parts = [part for part in (contact.full_name, contact.email) if part]
    return " · ".join(parts) or contact.phone or f"#{contact.pk}"


def lead_company(contact: Contact) -> str:
    return contact.company.name if contact.company_id else contact.company_name


class LeadFilterSet(WagtailFilterSet):
    first_source = django_filters.ChoiceFilter(
        label=_("First touch source"),
        choices=lambda: [(source, source) for source in selectors.contact_first_sources()],
        empty_label=_("All"),
    )
    created_at = django_filters.DateFromToRangeFilter(
        label=_("Created"), widget=DateRangePickerWidget
    )

    class Meta:
        model = Contact
        fields = ["lifecycle_stage", "temperature", "first_source", "created_at"]


class LeadIndexView(SafeSpreadsheetExportMixin, IndexView):
    """The leads listing: newest first, searchable by any word, filterable, exportable."""

    def get_base_queryset(self):
        return super().get_base_queryset().select_related("company")

    def search_queryset(self, queryset):
        if not self.is_searching:
            return queryset
        return selectors.contact_search(query=self.search_query, queryset=queryset)

    @cached_property
    def filterset_class(self):
        extra: dict[str, django_filters.Filter] = {}
        for hook in hooks.get_hooks(LEAD_LISTING_FILTERS_HOOK):
            extra.update(hook() or {})
        if not extra:
            return LeadFilterSet
        return type("LeadFilterSet", (LeadFilterSet,), extra)

    @cached_property
    def columns(self):
        # The first column links to the lead's page (its detail), not to the edit form.
        title = self._get_title_column_class(TitleColumn)(
            "lead",
            label=_("Lead"),
            accessor=lead_label,
            get_url=self.get_inspect_url,
            sort_key="email",
        )
        return [title, *super().columns[1:]]

    @cached_property
    def header_buttons(self):
        buttons = list(super().header_buttons)
        if ModelPermissionPolicy(PossibleDuplicate).user_has_permission(self.request.user, "view"):
            count = selectors.possible_duplicates_open().count()
            if count:
                buttons.append(
                    HeaderButton(
                        ngettext(
                            "Review %(count)s possible duplicate",
                            "Review %(count)s possible duplicates",
                            count,
                        )
                        % {"count": count},
                        url=reverse(f"{DUPLICATES_URL_NAMESPACE}:index"),
                        icon_name="group",
                    )
                )
        return buttons


class LeadInspectView(InspectView):
    """A lead's page: its fields, where it came from, consents, stage history and timeline."""

    template_name = "contacts/admin/lead_inspect.html"
    page_title = _("Lead")

    def get_object(self, queryset=None):
        return get_object_or_404(Contact.objects.select_related("company", "owner"), pk=self.pk)

    def get_page_subtitle(self):
        return lead_label(self.object)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        contact = self.object
        context.update(
            custom_values=selectors.contact_custom_values(contact=contact),
            touches=[
                (
                    _("First touch"),
                    contact.first_source,
                    contact.first_medium,
                    contact.first_campaign,
                    contact.first_referrer,
                    contact.first_landing_url,
                    contact.first_touch_at,
                ),
                (
                    _("Last touch"),
                    contact.last_source,
                    contact.last_medium,
                    contact.last_campaign,
                    contact.last_referrer,
                    contact.last_landing_url,
                    contact.last_touch_at,
                ),
            ],
            panels=lead_detail_panels(self.request, contact),
            stage_history=selectors.contact_stage_history(contact_id=contact.pk),
            timeline=contact_timeline(contact.pk),
            merges=selectors.contact_merges(contact_id=contact.pk),
            open_duplicates=[
                (
                    duplicate,
                    duplicate.other if duplicate.contact_id == contact.pk else duplicate.contact,
                )
                for duplicate in selectors.possible_duplicates_open_for(contact_id=contact.pk)
            ],
            duplicates_namespace=DUPLICATES_URL_NAMESPACE,
            stage_form=LeadStageForm(initial={"to_stage": contact.lifecycle_stage}),
            stage_url=reverse(f"{LEADS_URL_NAMESPACE}:stage", args=[contact.pk])
            if self.user_has_permission("change")
            else "",
        )
        return context


class LeadStageForm(forms.Form):
    to_stage = forms.ChoiceField(label=_("Move to stage"), choices=LifecycleStage.choices)
    cause = forms.CharField(
        label=_("Why"),
        max_length=150,
        required=False,
        help_text=_("Kept in the stage history, e.g. “qualified on the discovery call”."),
    )


class LeadStageChangeView(PermissionCheckedMixin, View):
    """POST: move a lead to another lifecycle stage; the change joins its history."""

    http_method_names = ["post"]
    permission_policy = ModelPermissionPolicy(Contact)
    permission_required = "change"

    def post(self, request, pk):
        contact = get_object_or_404(Contact, pk=pk)
        form = LeadStageForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose one of the lifecycle stages."))
        else:
            who = request.user.get_username()
            cause = form.cleaned_data["cause"] or _("changed in the back office")
            change = contact_stage_change(
                contact=contact,
                to_stage=form.cleaned_data["to_stage"],
                cause=f"{cause} ({who})"[:200],
                actor=request.user,
            )
            if change is None:
                messages.info(request, _("The lead is already at that stage."))
            else:
                messages.success(
                    request, _("Moved to “%(stage)s”.") % {"stage": change.get_to_stage_display()}
                )
        return redirect(reverse(f"{LEADS_URL_NAMESPACE}:inspect", args=[contact.pk]))


class LeadAdminForm(WagtailAdminModelForm):
    """The lead edit form: email and phone pass through the one normalisation."""

    def clean_email(self):
        raw = (self.cleaned_data.get("email") or "").strip()
        if not raw:
            return None
        try:
            return email_normalise(raw)
        except ValidationFailed as error:
            raise forms.ValidationError(error.message, code=error.code) from error

    def clean_phone(self):
        try:
            return phone_normalise(self.cleaned_data.get("phone") or "")
        except ValidationFailed as error:
            raise forms.ValidationError(error.message, code=error.code) from error


class LeadEditView(EditView):
    """Saves through ``contact_update`` so the change is published (ContactUpdated)."""

    def save_instance(self):
        changes = {name: self.form.cleaned_data[name] for name in self.form.changed_data}
        changed = contact_update(contact=self.object, changes=changes, actor=self.request.user)
        log(instance=self.object, action="wagtail.edit", content_changed=bool(changed))
        return self.object

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except ValidationFailed as error:  # lost a race on the unique email
            for field, field_messages in error.field_errors.items():
                for message in field_messages:
                    form.add_error(field if field in form.fields else None, message)
            if not error.field_errors:
                form.add_error(None, error.message)
            return self.form_invalid(form)


# --- Possible duplicates: the review queue ----------------------------------------------------


class DuplicateIndexView(IndexView):
    """Open pairs only; each row opens the side-by-side review."""

    def get_base_queryset(self):
        return selectors.possible_duplicates_open()

    def review_url(self, duplicate: PossibleDuplicate) -> str:
        return reverse(f"{DUPLICATES_URL_NAMESPACE}:review", args=[duplicate.pk])

    @cached_property
    def columns(self):
        title = self._get_title_column_class(TitleColumn)(
            "pair",
            label=_("Leads"),
            accessor=lambda d: f"{lead_label(d.contact)}  ~  {lead_label(d.other)}",
            get_url=self.review_url,
        )
        return [title, *super().columns[1:]]

    def get_list_more_buttons(self, instance):
        return []


class _DuplicateMixin:
    permission_policy = LimitedPermissionPolicy(PossibleDuplicate, actions={"view"})

    def get_duplicate(self) -> PossibleDuplicate:
        return get_object_or_404(
            PossibleDuplicate.objects.select_related("contact__company", "other__company"),
            pk=self.kwargs["pk"],
        )


class DuplicateReviewView(
    _DuplicateMixin, PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView
):
    """Two leads side by side, with the choice of which one stays, and the two actions."""

    permission_required = "view"
    template_name = "contacts/admin/duplicate_review.html"
    page_title = _("Possible duplicate")
    header_icon = "group"

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {
                "url": reverse(f"{DUPLICATES_URL_NAMESPACE}:index"),
                "label": _("Possible duplicates"),
            },
            {"url": "", "label": self.get_page_title()},
        ]

    def get_context_data(self, **kwargs):
        duplicate = self.get_duplicate()
        left, right = duplicate.contact, duplicate.other
        context = super().get_context_data(**kwargs)
        context.update(
            duplicate=duplicate,
            left=left,
            right=right,
            left_label=lead_label(left),
            right_label=lead_label(right),
            comparison=selectors.contact_comparison(left=left, right=right),
            left_counts=selectors.contact_related_counts(contact=left),
            right_counts=selectors.contact_related_counts(contact=right),
            # The older contact is the usual survivor: it holds the first touch and history.
            suggested_survivor=min((left, right), key=lambda c: (c.created_at, c.pk)).pk,
            can_resolve=ModelPermissionPolicy(PossibleDuplicate).user_has_permission(
                self.request.user, "change"
            ),
            is_open=duplicate.resolution == PossibleDuplicate.Resolution.OPEN,
            merge_url=reverse(f"{DUPLICATES_URL_NAMESPACE}:merge", args=[duplicate.pk]),
            dismiss_url=reverse(f"{DUPLICATES_URL_NAMESPACE}:dismiss", args=[duplicate.pk]),
            leads_namespace=LEADS_URL_NAMESPACE,
        )
        return context


class _DuplicateActionView(_DuplicateMixin, View):
    """POST only (CSRF-checked by Django's middleware); needs change permission on duplicates."""

    http_method_names = ["post"]

    def dispatch(self, request, *args, **kwargs):
        if not ModelPermissionPolicy(PossibleDuplicate).user_has_permission(request.user, "change"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def queue_url(self) -> str:
        return reverse(f"{DUPLICATES_URL_NAMESPACE}:index")


class DuplicateMergeView(_DuplicateActionView):
    def post(self, request, pk):
        duplicate = self.get_duplicate()
        if duplicate.resolution != PossibleDuplicate.Resolution.OPEN:
            messages.warning(request, _("These leads were already reviewed."))
            return redirect(self.queue_url())
        pair = {duplicate.contact_id: duplicate.contact, duplicate.other_id: duplicate.other}
        try:
            survivor = pair[int(request.POST.get("survivor", ""))]
        except (KeyError, ValueError):
            messages.error(request, _("Choose which of the two leads to keep."))
            return redirect(reverse(f"{DUPLICATES_URL_NAMESPACE}:review", args=[duplicate.pk]))
        other = next(contact for pk_, contact in pair.items() if pk_ != survivor.pk)
        other_label = lead_label(other)
        try:
            contact_merge(survivor=survivor, other=other, actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(self.queue_url())
        messages.success(
            request,
            _("Merged “%(other)s” into “%(survivor)s”; its history is kept here.")
            % {"other": other_label, "survivor": lead_label(survivor)},
        )
        return redirect(reverse(f"{LEADS_URL_NAMESPACE}:inspect", args=[survivor.pk]))


class DuplicateDismissView(_DuplicateActionView):
    def post(self, request, pk):
        duplicate = self.get_duplicate()
        try:
            possible_duplicate_dismiss(duplicate=duplicate, actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Kept “%(left)s” and “%(right)s” as two different leads.")
                % {"left": lead_label(duplicate.contact), "right": lead_label(duplicate.other)},
            )
        return redirect(self.queue_url())
