"""Privacy's back-office screens: "Delete (erase)" on the leads listing (:mod:`.admin_bulk`),
"Delete" in the "⋯" menu of a lead's page (the same confirmation, for that lead), and the
read-only listing of erasures (the audit)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSet

from leadmill.contacts.admin_leads import LEAD_ACTIONS_HOOK, LEADS_URL_NAMESPACE, LeadAction
from leadmill.core.admin_viewsets import LimitedPermissionPolicy

from .admin_bulk import LeadsEraseBulkAction
from .models import ErasureRecord

hooks.register("register_bulk_action", LeadsEraseBulkAction)


@hooks.register(LEAD_ACTIONS_HOOK)
def lead_erase_action(request, contact) -> list[LeadAction]:
    if not LeadsEraseBulkAction.offered_to(request.user):
        return []
    url = reverse("wagtail_bulk_action", args=("contacts", "contact", "erase"))
    query = urlencode({"id": contact.pk, "next": reverse(f"{LEADS_URL_NAMESPACE}:index")})
    return [LeadAction(_("Delete"), f"{url}?{query}", "bin", 90)]


class ErasureRecordViewSet(ModelViewSet):
    """The audit of erasures, read only (no add, edit or delete, whatever the group has)."""

    model = ErasureRecord
    permission_policy = LimitedPermissionPolicy(ErasureRecord, actions={"view"})
    copy_view_enabled = False
    add_to_reference_index = False
    ordering = ["-erased_at", "-id"]
    icon = "history"
    menu_label = _("Erasures")
    add_to_settings_menu = True
    inspect_view_enabled = True
    list_display = ["erased_at", "contact_id", "erased_by_name", "via", "reason", "rows_total"]
    list_filter = ["via"]
    inspect_view_fields = [
        "erased_at",
        "contact_id",
        "erased_by_name",
        "via",
        "reason",
        "suppression_hash",
        "rows",
    ]

    form_fields = []  # never used: the audit is written by erasures, not by hand


@hooks.register("register_admin_viewset")
def register_erasure_viewset():
    return ErasureRecordViewSet("erasures")
