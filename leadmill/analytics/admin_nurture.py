"""Back-office screens of nurture performance: one sequence (its steps, the uplift of
nurtured over held-out leads, cost per SQL), reached from the sequences' listing
("Performance"), and the broadcasts (menu: "Broadcast performance")."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from django.views.generic import TemplateView
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.widgets import ListingButton

from leadmill.contacts.models import LifecycleStage
from leadmill.core.admin_viewsets import TitledAdminViewMixin, snippet_breadcrumbs
from leadmill.nurture.models import Sequence
from leadmill.nurture.performance import PerformanceRow

from .nurture_report import DEFAULT_WINDOW_DAYS, broadcasts_report, sequence_report
from .tables import Column, Table, csv_response

SEQUENCE_URL_NAME = "analytics_sequence_performance"
BROADCASTS_URL_NAME = "analytics_broadcasts_performance"
MAX_WINDOW_DAYS = 3660


class WindowForm(forms.Form):
    window_days = forms.IntegerField(
        label=_("Conversion window (days)"),
        min_value=1,
        max_value=MAX_WINDOW_DAYS,
        initial=DEFAULT_WINDOW_DAYS,
        help_text=_(
            "A conversion counts when it happens within this many days after enrolment or the send."
        ),
    )


def _window(request) -> tuple[WindowForm, int]:
    form = WindowForm(request.GET or {"window_days": DEFAULT_WINDOW_DAYS})
    return form, form.cleaned_data["window_days"] if form.is_valid() else DEFAULT_WINDOW_DAYS


def performance_table(rows: list[PerformanceRow], *, first: str, reached: str) -> Table:
    """Every number of the performance rows in one table, for the CSV download: the emails,
    the conversions of the leads they reached, and the leads captured through their links."""
    columns = [
        Column("label", first),
        Column("enrolled", reached, "int"),
        *(
            Column(key, label, "int")
            for key, label in (
                ("sent", pgettext("emails or leads counted", "Sent")),
                ("delivered", pgettext("emails or leads counted", "Delivered")),
                ("bounced", pgettext("emails or leads counted", "Bounced")),
                ("opened", pgettext("emails or leads counted", "Opened")),
                ("clicked", pgettext("emails or leads counted", "Clicked")),
                ("unsubscribed", pgettext("emails or leads counted", "Unsubscribed")),
                ("complained", pgettext("emails or leads counted", "Complained")),
                ("mql", "MQL"),
                ("sql", "SQL"),
                ("customer", _g("Customers")),
                ("captured_leads", _g("Leads captured through its links")),
                ("captured_new_leads", _g("New leads")),
                ("captured_mql", _g("Captured leads: MQL")),
                ("captured_sql", _g("Captured leads: SQL")),
                ("captured_customer", _g("Captured leads: customers")),
            )
        ),
    ]
    return Table(
        id="performance",
        title=first,
        columns=columns,
        rows=[
            [
                row.label,
                row.enrolled,
                *vars(row.emails).values(),
                *row.conversions.values(),
                row.captured.leads,
                row.captured.new_leads,
                *row.captured.conversions.values(),
            ]
            for row in rows
        ],
    )


class SequencePerformanceView(TitledAdminViewMixin, WagtailAdminTemplateMixin, TemplateView):
    template_name = "analytics/admin/sequence_performance.html"
    header_icon = "list-ul"

    def dispatch(self, request, pk):
        if not request.user.has_perm("nurture.view_sequence") and not request.user.has_perm(
            "nurture.change_sequence"
        ):
            raise PermissionDenied
        self.sequence = get_object_or_404(Sequence, pk=pk)
        return super().dispatch(request, pk)

    def parent_breadcrumbs(self):
        return snippet_breadcrumbs(self.sequence)

    def get_page_title(self):
        return _g("Performance of “%(name)s”") % {"name": self.sequence.name}

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "performance":
            _form, window_days = _window(request)
            report = sequence_report(sequence=self.sequence, window_days=window_days)
            table = performance_table(
                report.performance, first=_g("Sequence or step"), reached=_g("Enrolled leads")
            )
            return csv_response(table, filename=f"sequence-{self.sequence.pk}-performance.csv")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        form, window_days = _window(self.request)
        report = sequence_report(sequence=self.sequence, window_days=window_days)
        return super().get_context_data(
            form=form,
            report=report,
            export_query=f"window_days={window_days}&export=performance",
            uplift=[(LifecycleStage(row.stage).label, row) for row in report.uplift],
            **kwargs,
        )


class BroadcastsPerformanceView(TitledAdminViewMixin, WagtailAdminTemplateMixin, TemplateView):
    template_name = "analytics/admin/broadcasts_performance.html"
    header_icon = "mail"
    page_title = _("Broadcasts: performance")

    def dispatch(self, request):
        if not request.user.has_perm("nurture.view_broadcast") and not request.user.has_perm(
            "nurture.change_broadcast"
        ):
            raise PermissionDenied
        return super().dispatch(request)

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "performance":
            _form, window_days = _window(request)
            table = performance_table(
                broadcasts_report(window_days=window_days),
                first=_g("Broadcast"),
                reached=_g("Recipients"),
            )
            return csv_response(table, filename="broadcasts-performance.csv")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        form, window_days = _window(self.request)
        return super().get_context_data(
            form=form,
            rows=broadcasts_report(window_days=window_days),
            window_days=window_days,
            export_query=f"window_days={window_days}&export=performance",
            **kwargs,
        )


@hooks.register("register_admin_urls")
def register_nurture_performance_urls():
    return [
        path(
            "analytics/sequences/<int:pk>/",
            SequencePerformanceView.as_view(),
            name=SEQUENCE_URL_NAME,
        ),
        path(
            "analytics/broadcasts/", BroadcastsPerformanceView.as_view(), name=BROADCASTS_URL_NAME
        ),
    ]


@hooks.register("register_snippet_listing_buttons")
def performance_listing_buttons(snippet, user, next_url=None):
    """The "Performance" button of each sequence in the sequences' listing."""
    if isinstance(snippet, Sequence):
        yield ListingButton(
            _("Performance"),
            url=reverse(SEQUENCE_URL_NAME, args=[snippet.pk]),
            icon_name="table",
            priority=6,
        )


class BroadcastsPerformanceMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm("nurture.view_broadcast") or request.user.has_perm(
            "nurture.change_broadcast"
        )


@hooks.register("register_admin_menu_item")
def register_broadcasts_performance_menu_item():
    """Right under Broadcasts (a model viewset, whose listing takes no buttons from hooks)."""
    return BroadcastsPerformanceMenuItem(
        _("Broadcast performance"), reverse(BROADCASTS_URL_NAME), icon_name="table", order=163
    )
