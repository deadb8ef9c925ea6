"""Back-office screens of analytics: the Analytics menu and a summary on the admin's home.

The screens live in ``admin_dashboard.py`` and ``admin_reports.py``. Other screens of
analytics add themselves to the menu with the ``register_analytics_menu_item`` hook.
"""

import datetime as dt

from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import Menu, MenuItem, SubmenuMenuItem
from wagtail.admin.ui.components import Component
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permissions import ModelPermissionPolicy

from . import charts, selectors
from .admin_dashboard import (
    DASHBOARD_URL_NAME,
    DEFAULT_DAYS,
    FORMS_URL_NAME,
    PAGES_URL_NAME,
    QUALITY_URL_NAME,
    SPEND_URL_NAME,
    STAGES,
    STEP_RATES,
    DashboardView,
    QualityView,
)
from .admin_reports import FormsView, PagesView, SpendView
from .definitions import DEFINITIONS
from .models import DailyCount, DigestRecipient, Metric

MENU_HOOK = "register_analytics_menu_item"


def may_view_analytics(user) -> bool:
    return ModelPermissionPolicy(DailyCount).user_has_permission(user, "view")


class AnalyticsMenuItem(MenuItem):
    def is_shown(self, request):
        return may_view_analytics(request.user)


class AnalyticsSubmenuItem(SubmenuMenuItem):
    def is_shown(self, request):
        return may_view_analytics(request.user)


@hooks.register("register_admin_urls")
def register_analytics_urls():
    return [
        path("analytics/", DashboardView.as_view(), name=DASHBOARD_URL_NAME),
        path("analytics/quality/", QualityView.as_view(), name=QUALITY_URL_NAME),
        path("analytics/pages/", PagesView.as_view(), name=PAGES_URL_NAME),
        path("analytics/forms/", FormsView.as_view(), name=FORMS_URL_NAME),
        path("analytics/spend/", SpendView.as_view(), name=SPEND_URL_NAME),
    ]


@hooks.register("register_admin_menu_item")
def register_analytics_menu():
    menu = Menu(register_hook_name=MENU_HOOK)
    return AnalyticsSubmenuItem(
        _("Analytics"), menu, icon_name="table", name="analytics", order=140
    )


@hooks.register(MENU_HOOK)
def register_dashboard_item():
    return AnalyticsMenuItem(
        _("Overview"), reverse(DASHBOARD_URL_NAME), icon_name="table", order=100
    )


@hooks.register(MENU_HOOK)
def register_quality_item():
    return AnalyticsMenuItem(
        _("Quality by source"), reverse(QUALITY_URL_NAME), icon_name="pick", order=200
    )


@hooks.register(MENU_HOOK)
def register_pages_item():
    return AnalyticsMenuItem(
        _("Landing pages"), reverse(PAGES_URL_NAME), icon_name="doc-full", order=300
    )


@hooks.register(MENU_HOOK)
def register_forms_item():
    return AnalyticsMenuItem(_("Forms"), reverse(FORMS_URL_NAME), icon_name="form", order=400)


@hooks.register(MENU_HOOK)
def register_spend_item():
    return AnalyticsMenuItem(_("Spend"), reverse(SPEND_URL_NAME), icon_name="upload", order=500)


class AnalyticsHomePanel(Component):
    """The admin's home: the last 30 days' leads per day and funnel, linking to the dashboard."""

    name = "analytics"
    order = 50
    template_name = "analytics/admin/home_panel.html"

    def __init__(self, request):
        self.request = request

    def get_context_data(self, parent_context=None):
        until = timezone.localdate()
        since = until - dt.timedelta(days=DEFAULT_DAYS - 1)
        total = selectors.funnel(since=since, until=until)["total"]
        days = selectors.daily(metric=Metric.LEADS, since=since, until=until)
        return {
            "since": since,
            "until": until,
            "stages": [
                {
                    "label": label,
                    "value": charts.number(total[key]),
                    "rate": charts.percent(total[STEP_RATES[key]]) if key in STEP_RATES else "",
                    "help": DEFINITIONS[key],
                }
                for key, label in STAGES
            ],
            "chart": charts.stacked_days_chart(
                title=str(_("Leads per day, last 30 days")),
                days=list(days),
                series={str(_("Leads")): [sum(groups.values()) for groups in days.values()]},
            ),
            "url": reverse(DASHBOARD_URL_NAME),
        }


@hooks.register("construct_homepage_panels")
def add_analytics_home_panel(request, panels):
    if may_view_analytics(request.user):
        panels.insert(0, AnalyticsHomePanel(request))


class DigestRecipientViewSet(ModelViewSet):
    """Who gets the weekly digest (Mondays, last week beside the week before), each in the
    language of their back-office profile."""

    model = DigestRecipient
    url_prefix = "analytics/digest"
    icon = "mail"
    menu_label = _("Weekly digest")
    add_to_admin_menu = False
    copy_view_enabled = False
    inspect_view_enabled = False
    list_display = ["user", "last_week_sent"]
    form_fields = ["user"]


digest_viewset = DigestRecipientViewSet("analytics_digest")


@hooks.register("register_admin_viewset")
def register_digest_viewset():
    return digest_viewset


class DigestMenuItem(MenuItem):
    def is_shown(self, request):
        return ModelPermissionPolicy(DigestRecipient).user_has_permission(request.user, "view")


@hooks.register(MENU_HOOK)
def register_digest_item():
    return DigestMenuItem(
        _("Weekly digest"),
        reverse(digest_viewset.get_url_name("index")),
        icon_name="mail",
        order=600,
    )
