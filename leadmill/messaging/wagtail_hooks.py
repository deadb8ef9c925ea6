"""Back-office screen of messaging: the email outbox of the embedded mode (read-only)."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.ui.tables import DateColumn
from wagtail.admin.views.generic import InspectView
from wagtail.admin.viewsets.model import ModelViewSet

from leadmill.core.admin_viewsets import LimitedPermissionPolicy

from .models import OutboxMessage


class OutboxMessageInspectView(InspectView):
    """One kept email: its headers, text, and HTML shown in a sandboxed frame (no scripts)."""

    template_name = "messaging/admin/outbox_inspect.html"

    def get_object(self, queryset=None):
        return get_object_or_404(OutboxMessage, pk=self.pk)


class OutboxMessageViewSet(ModelViewSet):
    """What Leadmill sent while no mail server is configured: a read-only listing."""

    model = OutboxMessage
    icon = "mail"
    menu_label = _("Email outbox")
    url_prefix = "email-outbox"
    add_to_admin_menu = True
    menu_order = 600
    permission_policy = LimitedPermissionPolicy(OutboxMessage, actions={"view"})
    copy_view_enabled = False
    inspect_view_enabled = True
    add_to_reference_index = False
    inspect_view_class = OutboxMessageInspectView
    list_display = [
        "subject",
        "to",
        "from_email",
        DateColumn("created_at", label=_("Queued"), sort_key="created_at"),
    ]
    search_fields = ["subject", "to"]
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    inspect_view_fields = ["subject", "from_email", "to", "message_id", "created_at"]
    form_fields = []  # never used: the screen is read-only


@hooks.register("register_admin_viewset")
def register_outbox_viewset():
    return OutboxMessageViewSet()
