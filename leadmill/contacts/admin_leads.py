"""Back-office screens of leads: the listing (filters, export), the detail page, the edit
form and the lifecycle stage change. Wired in ``wagtail_hooks.py``.

Two Wagtail hooks let apps above contacts add to these screens without contacts importing
them (DESIGN.md layers):

``leadmill_lead_detail_panels``
    ``fn(request, contact) -> LeadDetailPanel | list[LeadDetailPanel] | None``: a part of
    the lead's detail page (consent adds the consent state and ledger).
``leadmill_lead_listing_filters``
    ``fn() -> dict[str, django_filters.Filter]``: extra filters of the leads listing
    (capture adds "form").
``leadmill_lead_listing_columns``
    ``fn() -> LeadListingColumns | None``: values an app adds to the leads listing and its
    export (scoring adds fit, engagement, total and the chance to win), annotated on the
    listing's query so they sort and filter in SQL.
``leadmill_lead_actions``
    ``fn(request, contact) -> list[LeadAction]``: items of the "⋯" menu of the lead's page
    (sales adds "Log a call, note or task", nurture "Enrol in a sequence").
``leadmill_lead_owner_set``
    ``fn(contact, owner, actor) -> None``: give the lead the owner chosen in its edit form.
    Exactly one app registers it: sales, whose service publishes OwnerAssigned (contacts
    does not decide or announce owners).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views import View
from wagtail import hooks
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.ui.tables import BulkActionsCheckboxColumn, TitleColumn
from wagtail.admin.views.bulk_action.registry import bulk_action_registry
from wagtail.admin.views.generic import EditView, IndexView, InspectView
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.widgets import Button, HeaderButton
from wagtail.log_actions import log
from wagtail.permissions import ModelPermissionPolicy

from leadmill.core.admin_viewsets import SafeSpreadsheetExportMixin
from leadmill.core.errors import ValidationFailed
from leadmill.core.money import money_format
from leadmill.core.personal_data import personal_data_export
from leadmill.core.registry import contact_timeline, names_resolve

from . import selectors
from .identity import email_normalise, phone_normalise
from .models import Contact, LifecycleStage, PossibleDuplicate
from .services import (
    contact_stage_change,
    contact_update,
)

LEAD_DETAIL_PANELS_HOOK = "leadmill_lead_detail_panels"
LEAD_LISTING_FILTERS_HOOK = "leadmill_lead_listing_filters"
LEAD_OWNER_SET_HOOK = "leadmill_lead_owner_set"
LEAD_LISTING_COLUMNS_HOOK = "leadmill_lead_listing_columns"
LEAD_ACTIONS_HOOK = "leadmill_lead_actions"
# At most this many leads ticked by hand travel in a URL (a listing page holds 50).
MAX_SELECTED_IDS = 500
# Panels ordered before this one show above the lead's source (e.g. scoring's scores).
LEAD_DETAIL_TOP_ORDER = 10

logger = logging.getLogger(__name__)

LEADS_URL_NAMESPACE = "leads"
DUPLICATES_URL_NAMESPACE = "lead_duplicates"


@dataclasses.dataclass(frozen=True)
class LeadDetailPanel:
    """A titled table on the lead's detail page, contributed through the hook."""

    heading: str
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[Any]] = ()
    empty_message: str = ""
    order: int = 100
    facts: Sequence[tuple[str, Any]] = ()  # (label, value) pairs, shown above the table
    notes: Sequence[str] = ()  # sentences, shown as a list (e.g. why the lead is hot)
    notes_heading: str = ""
    html: str = ""  # safe HTML shown last (a form of the app's own, e.g. "Log an activity")
    anchor: str = ""  # the section's id, for a link to it (e.g. from the "⋯" menu)


@dataclasses.dataclass(frozen=True)
class LeadAction:
    """An item of the "⋯" menu of a lead's page, contributed through the hook."""

    label: str
    url: str
    icon_name: str = ""
    priority: int = 100


@dataclasses.dataclass(frozen=True)
class LeadListingColumns:
    """What an app adds to the leads listing: ``annotate`` adds the values to the listing's
    query (so the columns sort, and filters of ``leadmill_lead_listing_filters`` may test
    them); ``columns`` are shown after the built-in ones; ``export`` lists (attribute,
    heading) pairs appended to the CSV / XLSX export."""

    annotate: Callable[[Any], Any]
    columns: Sequence[Any] = ()
    export: Sequence[tuple[str, str]] = ()
    # Lower first. The scores stand last: a total is never empty, and XLSX readers drop
    # the empty cells that end a row (an unanswered consent would).
    order: int = 100


def lead_listing_columns() -> list[LeadListingColumns]:
    extras = [extra for hook in hooks.get_hooks(LEAD_LISTING_COLUMNS_HOOK) if (extra := hook())]
    return sorted(extras, key=lambda extra: extra.order)


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


def lead_filterset_class() -> type[LeadFilterSet]:
    """The listing's filters: the built-in ones and those apps add through the hook."""
    extra: dict[str, django_filters.Filter] = {}
    for hook in hooks.get_hooks(LEAD_LISTING_FILTERS_HOOK):
        extra.update(hook() or {})
    if not extra:
        return LeadFilterSet
    return type("LeadFilterSet", (LeadFilterSet,), extra)


def leads_annotated(queryset: QuerySet[Contact]) -> QuerySet[Contact]:
    """The listing's query with the values apps add (scores), so their filters can test them."""
    for extra in lead_listing_columns():
        queryset = extra.annotate(queryset)
    return queryset


def leads_matching(params: QueryDict, *, request=None) -> QuerySet[Contact]:
    """The leads the listing shows for these query parameters (its filters and search),
    in no order: what "select all N matching" of a bulk action means. Filters that do not
    validate match nobody, never everyone."""
    queryset = leads_annotated(Contact.objects.all())
    filters = lead_filterset_class()(params, queryset=queryset, request=request)
    if not filters.is_valid():
        return Contact.objects.none()
    queryset = filters.qs
    if query := (params.get("q") or "").strip():
        queryset = selectors.contact_search(query=query, queryset=queryset)
    return queryset.order_by()


def selected_lead_ids(params: QueryDict) -> list[int]:
    """The ``id`` parameters that are lead ids (a bulk export of the leads ticked)."""
    return [int(value) for value in params.getlist("id") if value.isdigit()][:MAX_SELECTED_IDS]


class LeadIndexView(SafeSpreadsheetExportMixin, IndexView):
    """The leads listing: newest first, searchable by any word, filterable, exportable, with
    bulk actions on the leads ticked (or all that match): apps register them with Wagtail's
    ``register_bulk_action`` hook (:mod:`.admin_bulk`)."""

    template_name = "contacts/admin/lead_index.html"

    def get_base_queryset(self):
        queryset = leads_annotated(super().get_base_queryset().select_related("company"))
        # The export of the leads ticked (the bulk action "Export") names them by id.
        if getattr(self, "is_export", False) and (ids := selected_lead_ids(self.request.GET)):
            queryset = queryset.filter(pk__in=ids)
        return queryset

    def get_preprocess_function(self, field, value, export_format):
        # A CSV cell holds text: a moment reads as a person writes it, in the site's time
        # zone, to the minute ("2026-12-06 15:23"), not "…18:23:35.349941+00:00".
        if export_format == self.FORMAT_CSV and isinstance(value, datetime.datetime):
            return lambda moment: timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
        return super().get_preprocess_function(field, value, export_format)

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        extra_export = [pair for extra in lead_listing_columns() for pair in extra.export]
        self.list_export = [*self.list_export, *(name for name, _heading in extra_export)]
        self.export_headings = {
            **self.export_headings,
            "outcome_value": _("Outcome value (%(currency)s)")
            % {"currency": settings.LEADMILL_REPORTING_CURRENCY},
            **{name: heading for name, heading in extra_export},
        }

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        actions = bulk_action_registry.get_bulk_actions_for_model(
            Contact._meta.app_label, Contact._meta.model_name
        )
        context["bulk_actions"] = [
            {
                "url": reverse(
                    "wagtail_bulk_action",
                    args=[Contact._meta.app_label, Contact._meta.model_name, action.action_type],
                ),
                "label": action.display_name,
                "aria_label": action.aria_label,
                "serious": getattr(action, "serious", False),
            }
            for action in sorted(actions, key=lambda action: action.action_priority)
            if getattr(action, "offered_to", lambda user: True)(self.request.user)
        ]
        return context

    def filter_queryset(self, queryset):
        # Wagtail lists every lead when a filter does not validate (a segment since deleted):
        # an export or "select all" of that would act on everyone. It matches nobody, and
        # the filter says what is wrong.
        if self.filters and not self.filters.is_valid():
            return queryset.none()
        return super().filter_queryset(queryset)

    def search_queryset(self, queryset):
        if not self.is_searching:
            return queryset
        return selectors.contact_search(query=self.search_query, queryset=queryset)

    @cached_property
    def filterset_class(self):
        return lead_filterset_class()

    @cached_property
    def columns(self):
        # The first column links to the lead's page (its detail), not to the edit form.
        title = self._get_title_column_class(TitleColumn)(
            "lead",
            label=_("Lead"),
            accessor=lead_label,
            get_url=self.get_inspect_url,
            sort_key="email",
            get_title_id=lambda contact: f"lead_{contact.pk}_title",
        )
        extra = [column for item in lead_listing_columns() for column in item.columns]
        return [
            BulkActionsCheckboxColumn("bulk_actions", obj_type="lead"),
            title,
            *super().columns[1:],
            *extra,
        ]

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

    @cached_property
    def header_more_buttons(self):
        """Edit, then what a person does with a lead: give it an owner, move its stage, and
        what apps above add (log an activity, enrol in a sequence)."""
        buttons = list(super().header_more_buttons)
        actions = []
        if edit_url := self.get_edit_url():
            actions.append(LeadAction(_("Assign an owner"), f"{edit_url}#id_owner", "user", 20))
        if self.user_has_permission("change"):
            actions.append(LeadAction(_("Change stage"), "#change-stage", "resubmit", 30))
            actions.append(
                LeadAction(
                    _("Export this lead's data"),
                    reverse(f"{LEADS_URL_NAMESPACE}:export_data", args=[self.object.pk]),
                    "download",
                    60,
                )
            )
        for hook in hooks.get_hooks(LEAD_ACTIONS_HOOK):
            actions.extend(hook(self.request, self.object) or [])
        buttons += [
            Button(
                action.label, url=action.url, icon_name=action.icon_name, priority=action.priority
            )
            for action in actions
        ]
        return sorted(buttons, key=lambda button: button.priority)

    def get_outcome_value_display_value(self):
        # "$4,800.00" / "R$ 4.800,00": a value reads with its currency.
        return money_format(self.object.outcome_value) or None

    def get_company_display_value(self):
        # One company line: the linked company, else the name the lead typed.
        return lead_company(self.object) or None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        contact = self.object
        panels = lead_detail_panels(self.request, contact)
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
            top_panels=[p for p in panels if p.order < LEAD_DETAIL_TOP_ORDER],
            panels=[p for p in panels if p.order >= LEAD_DETAIL_TOP_ORDER],
            stage_history=stage_history_named(
                selectors.contact_stage_history(contact_id=contact.pk)
            ),
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


def stage_history_named(history: QuerySet) -> QuerySet:
    """``history``, read, each stage change with ``cause_label``: its cause as a person
    reads it. Causes kept as codes name what they point to ("form:ebook" → the form
    “E-book …”, "api" → "API"), through the apps that own them
    (:func:`leadmill.core.registry.names_resolve`)."""
    form_slugs = {c.cause.removeprefix("form:") for c in history if c.cause.startswith("form:")}
    forms_named = names_resolve("form", form_slugs)
    channels = names_resolve("channel", {c.cause for c in history})
    for change in history:
        slug = change.cause.removeprefix("form:") if change.cause.startswith("form:") else None
        if slug is not None:
            change.cause_label = _("the form “%(name)s”") % {"name": forms_named.get(slug, slug)}
        else:
            change.cause_label = channels.get(change.cause, change.cause)
    return history


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


class LeadDataExportView(PermissionCheckedMixin, View):
    """GET: everything Leadmill keeps about one lead, as a JSON file for the person who asks
    for their data (every app's rows, through the personal-data registry)."""

    http_method_names = ["get"]
    permission_policy = ModelPermissionPolicy(Contact)
    permission_required = "change"

    def get(self, request, pk):
        contact = get_object_or_404(Contact, pk=pk)
        data = personal_data_export(subject=contact)
        logger.info("personal data of contact %s exported by user %s", contact.pk, request.user.pk)
        response = HttpResponse(
            json.dumps(
                {"lead": contact.pk, "exported_at": timezone.now(), "data": data},
                cls=DjangoJSONEncoder,
                ensure_ascii=False,
                indent=2,
            ),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="lead-{contact.pk}-data.json"'
        response["Cache-Control"] = "private, no-store"
        return response


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


def lead_owner_setter():
    """The one ``leadmill_lead_listing_columns``
        ``fn() -> LeadListingColumns | None``: values an app adds to the leads listing and its
        export (scoring adds fit, engagement, total and the chance to win), annotated on the
        listing's query so they sort and filter in SQL.
    ``leadmill_lead_owner_set`` hook (sales'); ImproperlyConfigured without one."""
    setters = hooks.get_hooks(LEAD_OWNER_SET_HOOK)
    if len(setters) != 1:
        raise ImproperlyConfigured(
            f"exactly one {LEAD_OWNER_SET_HOOK} hook is needed, {len(setters)} are registered"
        )
    return setters[0]


class LeadEditView(EditView):
    """Saves through ``contact_update`` so the change is published (ContactUpdated), and a
    new owner through the owner hook (sales publishes OwnerAssigned); both or neither."""

    def save_instance(self):
        changes = {name: self.form.cleaned_data[name] for name in self.form.changed_data}
        owner_changed = "owner" in changes
        owner = changes.pop("owner", None)
        with transaction.atomic():
            changed = contact_update(contact=self.object, changes=changes, actor=self.request.user)
            if owner_changed:
                lead_owner_setter()(self.object, owner, self.request.user)
        content_changed = bool(changed) or owner_changed
        log(instance=self.object, action="wagtail.edit", content_changed=content_changed)
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
