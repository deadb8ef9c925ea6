"""Back-office screens of sales: "My leads" for reps; reps, teams and rules for Admin.

The views of "My leads" live in ``admin_my_leads.py``; this module only wires them into
Wagtail's admin.
"""

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from leadmill.contacts.admin_leads import LEAD_OWNER_SET_HOOK
from leadmill.core.admin_viewsets import boolean_column

from . import services
from .admin_bulk import LeadsOwnerAssignBulkAction
from .admin_my_leads import LEAD_ACTION_URL_NAME, MY_LEADS_URL_NAME, LeadActionView, MyLeadsView
from .models import AssignmentRule, SalesRep, SalesTeam


class MyLeadsMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm("sales.view_saleslead")


@hooks.register("register_admin_urls")
def register_my_leads_urls():
    return [
        path("my-leads/", MyLeadsView.as_view(), name=MY_LEADS_URL_NAME),
        path(
            "my-leads/<int:pk>/<slug:action>/", LeadActionView.as_view(), name=LEAD_ACTION_URL_NAME
        ),
    ]


@hooks.register("register_admin_menu_item")
def register_my_leads_menu_item():
    return MyLeadsMenuItem(_("My leads"), reverse(MY_LEADS_URL_NAME), icon_name="user", order=149)


class SalesRepViewSet(ModelViewSet):
    """Who takes leads, with what weight and capacity, and who is away."""

    model = SalesRep
    url_prefix = "sales/reps"
    icon = "user"
    menu_label = _("Sales reps")
    copy_view_enabled = False
    list_display = [
        "user",
        "weight",
        "capacity",
        boolean_column(SalesRep, "available"),
        "unavailable_until",
        "territories",
    ]
    list_filter = ["available"]
    form_fields = [
        "user",
        "weight",
        "capacity",
        "available",
        "unavailable_until",
        "territories",
        "segments",
        "sources",
    ]


class SalesTeamViewSet(ModelViewSet):
    model = SalesTeam
    url_prefix = "sales/teams"
    icon = "group"
    menu_label = _("Sales teams")
    copy_view_enabled = False
    list_display = ["name"]
    form_fields = ["name", "members"]


class AssignmentRuleViewSet(ModelViewSet):
    """Rules tried by priority before the round robin over every available rep."""

    model = AssignmentRule
    url_prefix = "sales/rules"
    icon = "list-ol"
    menu_label = _("Assignment rules")
    list_display = [
        "name",
        "priority",
        boolean_column(AssignmentRule, "active"),
        "countries",
        "segments",
        "sources",
        "company_sizes",
        "team",
    ]
    list_filter = ["active"]
    ordering = ["priority", "id"]
    form_fields = [
        "name",
        "priority",
        "active",
        "countries",
        "segments",
        "sources",
        "company_sizes",
        "reps",
        "team",
    ]


class SalesSetupViewSetGroup(ViewSetGroup):
    menu_label = _("Sales setup")
    menu_icon = "group"
    menu_order = 152
    items = (SalesRepViewSet, SalesTeamViewSet, AssignmentRuleViewSet)


@hooks.register("register_admin_viewset")
def register_sales_viewsets():
    return SalesSetupViewSetGroup()


@hooks.register(LEAD_OWNER_SET_HOOK)
def set_lead_owner(contact, owner, actor):
    """The lead edit form (contacts) hands a new owner to the one owner service."""
    services.lead_owner_set(contact=contact, owner=owner, actor=actor)


hooks.register("register_bulk_action", LeadsOwnerAssignBulkAction)
