"""Back-office screens of sales: "My leads" for reps; reps, teams and rules for Admin.

The views of "My leads" live in ``admin_my_leads.py``; this module only wires them into
Wagtail's admin.
"""

from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from leadmill.contacts.admin_leads import (
    LEAD_ACTIONS_HOOK,
    LEAD_DETAIL_PANELS_HOOK,
    LEAD_OWNER_SET_HOOK,
    LeadAction,
    LeadDetailPanel,
)
from leadmill.core.admin_viewsets import boolean_column

from . import services
from .admin_bulk import LeadsOwnerAssignBulkAction
from .admin_my_leads import (
    CONTACT_ACTIVITY_URL_NAME,
    LEAD_ACTION_URL_NAME,
    MY_LEADS_URL_NAME,
    ActivityForm,
    ContactActivityView,
    LeadActionView,
    MyLeadsView,
    duration_text,
    may_log_on,
)
from .models import AssignmentRule, SalesLead, SalesRep, SalesTeam


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
        path(
            "my-leads/lead/<int:pk>/log/",
            ContactActivityView.as_view(),
            name=CONTACT_ACTIVITY_URL_NAME,
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


@hooks.register(LEAD_DETAIL_PANELS_HOOK)
def lead_sales_panel(request, contact) -> LeadDetailPanel | None:
    """The lead's sales state (owner, status, first contact), and a form to log a call,
    note or task on it, for those who may (its owner, Admin)."""
    if not request.user.has_perm("sales.view_saleslead"):
        return None
    lead = SalesLead.objects.filter(contact=contact).first()
    facts = [(_("Owner"), contact.owner or _("nobody yet"))]
    if lead is not None:
        facts += [
            (_("Sales status"), lead.get_status_display()),
            (_("First contact due"), lead.sla_due_at if not lead.first_activity_at else None),
            (_("Speed to lead"), duration_text(lead.speed_to_lead) or None),
        ]
    html = ""
    if may_log_on(request.user, contact):
        html = render_to_string(
            "sales/admin/lead_activity_form.html",
            {
                "form": ActivityForm(auto_id="id_activity_%s"),
                "action_url": reverse(CONTACT_ACTIVITY_URL_NAME, args=[contact.pk]),
                "next": request.get_full_path(),
            },
            request=request,
        )
    return LeadDetailPanel(
        heading=_("Sales"),
        facts=facts,
        html=html,
        anchor="sales",
        order=8,
    )


@hooks.register(LEAD_ACTIONS_HOOK)
def lead_sales_actions(request, contact) -> list[LeadAction]:
    if not may_log_on(request.user, contact):
        return []
    return [LeadAction(_("Log a call, note or task"), "#sales", "comment", 40)]


@hooks.register(LEAD_OWNER_SET_HOOK)
def set_lead_owner(contact, owner, actor):
    """The lead edit form (contacts) hands a new owner to the one owner service."""
    services.lead_owner_set(contact=contact, owner=owner, actor=actor)


hooks.register("register_bulk_action", LeadsOwnerAssignBulkAction)
