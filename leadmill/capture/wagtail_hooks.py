"""Back-office screens of capture: offers, forms, CTAs and submissions, in a "Capture" menu.

Offers, forms and CTAs stay snippets, so pages can choose them (SnippetChooserBlock).
Submissions are read-only: what a person sent is kept as it arrived. Spam and errors can
be reprocessed from the listing (admin_submissions.py).
"""

import json

import django_filters
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.tables import BulkActionsCheckboxColumn, Column, DateColumn, TitleColumn
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from leadmill.contacts.admin_leads import LEAD_LISTING_FILTERS_HOOK, LEADS_URL_NAMESPACE
from leadmill.core.admin_viewsets import (
    LabelledInspectViewMixin,
    LimitedPermissionPolicy,
    SafeSpreadsheetExportMixin,
    boolean_column,
)

from .admin_experiments import ExperimentViewSet
from .admin_form_builder import FormCreateView
from .admin_launch import LAUNCH_URL_NAME, LandingPageLaunchView
from .admin_submissions import SubmissionReprocessBulkAction
from .models import CallToAction, Form, Offer, Submission


class OfferViewSet(SnippetViewSet):
    model = Offer
    icon = "download"
    menu_label = _("Offers")
    list_display = [
        "name",
        "kind",
        boolean_column(Offer, "is_intent_signal"),
        DateColumn("created_at", label=_("Created"), sort_key="created_at"),
    ]
    list_filter = ["kind", "is_intent_signal"]
    search_fields = ["name"]


class FormViewSet(SnippetViewSet):
    model = Form
    add_view_class = FormCreateView
    icon = "form"
    menu_label = _("Forms")
    list_display = [
        "name",
        "slug",
        "offer",
        boolean_column(Form, "is_active"),
        DateColumn("created_at", label=_("Created"), sort_key="created_at"),
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]


class CallToActionViewSet(SnippetViewSet):
    model = CallToAction
    icon = "link"
    menu_label = _("Calls to action")
    list_display = ["label", "slug", "target_page", "target_url", "clicks"]
    search_fields = ["label", "slug"]


# --- Submissions (read-only) ----------------------------------------------------------------


def submission_sender(submission: Submission) -> str:
    """Who sent it, as they typed it: email, else phone, else the row number."""
    data = submission.data or {}
    return str(data.get("email") or data.get("phone") or f"#{submission.pk}")


class SubmissionFilterSet(WagtailFilterSet):
    form = django_filters.ModelChoiceFilter(label=_("Form"), queryset=Form.objects.order_by("name"))
    created_at = django_filters.DateFromToRangeFilter(
        label=_("Received"), widget=DateRangePickerWidget
    )
    retry = django_filters.ChoiceFilter(
        label=_("Errors"),
        method="filter_retry",
        empty_label=_("All"),
        choices=[("waiting", _("Waiting for a retry")), ("given_up", _("Given up"))],
    )

    class Meta:
        model = Submission
        fields = ["status", "form", "created_at", "retry"]

    def filter_retry(self, queryset, name, value):
        errors = queryset.filter(status=Submission.Status.ERROR)
        return errors.filter(retry_at__isnull=value == "given_up")


# Export columns: heading and how to read it from a submission.
SUBMISSION_EXPORT = {
    "id": (_("ID"), lambda s: s.pk),
    "created_at": (_("Received"), lambda s: s.created_at),
    "channel": (_("Channel"), lambda s: s.get_channel_display()),
    "form": (_("Form"), lambda s: s.form.name if s.form_id else ""),
    "status": (_("Status"), lambda s: s.get_status_display()),
    "spam_reason": (_("Spam reason"), lambda s: s.spam_reason),
    "lead": (_("Lead email"), lambda s: s.contact.email if s.contact_id else ""),
    "page_url": (_("Page"), lambda s: s.page_url),
    "referrer": (_("Referrer"), lambda s: s.referrer),
    "utm_source": ("utm_source", lambda s: s.utm_source),
    "utm_medium": ("utm_medium", lambda s: s.utm_medium),
    "utm_campaign": ("utm_campaign", lambda s: s.utm_campaign),
    "utm_term": ("utm_term", lambda s: s.utm_term),
    "utm_content": ("utm_content", lambda s: s.utm_content),
    "data": (
        _("Submitted values"),
        lambda s: json.dumps(s.data, ensure_ascii=False, sort_keys=True),
    ),
}


class SubmissionIndexView(SafeSpreadsheetExportMixin, IndexView):
    template_name = "capture/admin/submission_index.html"

    def get_base_queryset(self):
        return super().get_base_queryset().select_related("form", "contact")

    @cached_property
    def columns(self):
        title = self._get_title_column_class(TitleColumn)(
            "sender",
            label=_("Submission"),
            accessor=submission_sender,
            get_url=self.get_inspect_url,
            get_title_id=lambda submission: f"submission_{submission.pk}_title",
        )
        return [
            BulkActionsCheckboxColumn("bulk_actions", obj_type="submission"),
            title,
            *super().columns[1:],
        ]

    def to_row_dict(self, item):
        return {name: read(item) for name, (_heading, read) in SUBMISSION_EXPORT.items()}


class SubmissionInspectView(LabelledInspectViewMixin, InspectView):
    template_name = "capture/admin/submission_inspect.html"
    # The UTM parameters and the User-Agent keep their usual names in every language.
    field_labels = {
        "form": _("Form"),
        "utm_source": "UTM source",
        "utm_medium": "UTM medium",
        "utm_campaign": "UTM campaign",
        "utm_term": "UTM term",
        "utm_content": "UTM content",
        "ip_address": _("IP address"),
        "user_agent": "User-Agent",
    }

    def get_object(self, queryset=None):
        return get_object_or_404(Submission.objects.select_related("form", "contact"), pk=self.pk)

    def get_page_subtitle(self):
        return submission_sender(self.object)

    def get_contact_display_value(self):
        contact = self.object.contact
        if contact is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse(f"{LEADS_URL_NAMESPACE}:inspect", args=[contact.pk]),
            contact,
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["submitted_values"] = sorted((self.object.data or {}).items())
        context["field_errors"] = sorted((self.object.errors or {}).items())
        return context


class SubmissionViewSet(ModelViewSet):
    """Every form post as it arrived, with its outcome (accepted, rejected, spam)."""

    model = Submission
    icon = "clipboard-list"
    menu_label = _("Submissions")
    url_prefix = "submissions"
    permission_policy = LimitedPermissionPolicy(Submission, actions={"view"})
    copy_view_enabled = False
    inspect_view_enabled = True
    add_to_reference_index = False
    index_view_class = SubmissionIndexView
    inspect_view_class = SubmissionInspectView
    filterset_class = SubmissionFilterSet
    list_display = [
        "form",  # replaced by the "Submission" column (who sent it) in SubmissionIndexView
        Column("form", label=_("Form"), sort_key="form"),
        "channel",
        "status",
        "contact",
        Column("utm_source", label=_("Source"), sort_key="utm_source"),
        # Sorted by id, which grows with the time received: the table has no index on
        # created_at alone (one index less to write on every form post).
        DateColumn("created_at", label=_("Received"), sort_key="id"),
    ]
    ordering = ["-id"]
    list_per_page = 50
    search_fields = ["data__email", "data__phone", "contact__email", "page_url"]
    list_export = list(SUBMISSION_EXPORT)
    export_headings = {name: heading for name, (heading, _read) in SUBMISSION_EXPORT.items()}
    export_filename = "submissions"
    inspect_view_fields = [
        "channel",
        "external_id",
        "author",
        "form",
        "status",
        "spam_reason",
        "contact",
        "page_url",
        "referrer",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "source_channel",
        "source",
        "medium",
        "campaign",
        "ip_address",
        "user_agent",
        "offer_emailed_at",
        "processing_attempts",
        "retry_at",
        "created_at",
    ]
    form_fields = []  # never used: the screen is read-only


class CaptureViewSetGroup(SnippetViewSetGroup):
    menu_label = _("Capture")
    menu_icon = "crosshairs"
    menu_order = 200
    items = (OfferViewSet, FormViewSet, CallToActionViewSet, SubmissionViewSet, ExperimentViewSet)


register_snippet(CaptureViewSetGroup)
hooks.register("register_bulk_action", SubmissionReprocessBulkAction)


@hooks.register(LEAD_LISTING_FILTERS_HOOK)
def lead_filter_by_form():
    """Leads listing filter: leads with at least one submission of the chosen form."""
    return {
        "form": django_filters.ModelChoiceFilter(
            label=_("Form"),
            field_name="submissions__form",
            queryset=Form.objects.order_by("name"),
            distinct=True,
        )
    }


class LaunchMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm("capture.add_offer")


@hooks.register("register_admin_urls")
def register_launch_url():
    return [
        path("capture/new-landing-page/", LandingPageLaunchView.as_view(), name=LAUNCH_URL_NAME)
    ]


@hooks.register("register_admin_menu_item")
def register_launch_menu_item():
    """First in the menu: from nothing to a live page with a working form, in one screen."""
    return LaunchMenuItem(
        _("New landing page"), reverse(LAUNCH_URL_NAME), icon_name="doc-empty-inverse", order=5
    )
