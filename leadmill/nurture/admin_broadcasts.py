"""Back-office screens of broadcasts: write one (an email and a segment), send it now or at a
set time, and follow its counts (sent, not sent, opened, clicked).

A broadcast starts at the next minute's nurture pass after its time (see
:func:`.broadcasts.broadcasts_start_due`); only drafts and scheduled ones can be edited.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail import hooks
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic import EditView, IndexView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets import ListingButton

from leadmill.core.admin_viewsets import TitledAdminViewMixin
from leadmill.core.errors import ValidationFailed
from leadmill.messaging.models import Message

from .broadcasts import broadcast_cancel, broadcast_schedule
from .models import Broadcast

SEND_URL_NAME = "nurture_broadcast_send"
EDITABLE = (Broadcast.Status.DRAFT, Broadcast.Status.SCHEDULED)


def _messages_count(**conditions):
    """The number of the listed broadcast's messages meeting ``conditions`` (a subquery:
    messages keep the broadcast's id, not a foreign key)."""
    counted = (
        Message.objects.filter(broadcast_id=OuterRef("pk"), **conditions)
        .order_by()
        .values("broadcast_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(counted), 0)


class BroadcastIndexView(IndexView):
    def get_base_queryset(self):
        return (
            super()
            .get_base_queryset()
            .select_related("template", "segment")
            .annotate(
                sent_count=_messages_count(status=Message.Status.SENT),
                not_sent_count=_messages_count(
                    status__in=[Message.Status.SUPPRESSED, Message.Status.FAILED]
                ),
                opened_count=_messages_count(opened_at__isnull=False),
                clicked_count=_messages_count(clicked_at__isnull=False),
            )
        )

    def get_list_more_buttons(self, instance):
        buttons = list(super().get_list_more_buttons(instance))
        if instance.status in EDITABLE and self.permission_policy.user_has_permission(
            self.request.user, "change"
        ):
            buttons.append(
                ListingButton(
                    _("Send…"),
                    url=reverse(SEND_URL_NAME, args=[instance.pk]),
                    icon_name="mail",
                    priority=5,
                )
            )
        return buttons


class BroadcastEditView(EditView):
    """Only a draft or a scheduled broadcast can change: what was sent stays as it was."""

    def dispatch(self, request, *args, **kwargs):
        broadcast = get_object_or_404(Broadcast, pk=kwargs.get("pk"))
        if broadcast.status not in EDITABLE:
            messages.warning(request, _g("This broadcast was sent; it can no longer change."))
            return redirect(reverse(f"{BroadcastViewSet.name}:index"))
        return super().dispatch(request, *args, **kwargs)

    def save_instance(self):
        """Clearing "send at" of a scheduled broadcast unschedules it: it is a draft again."""
        instance = super().save_instance()
        if instance.status == Broadcast.Status.SCHEDULED and instance.send_at is None:
            try:
                broadcast_cancel(broadcast=instance)
                messages.info(self.request, _g("Without a time to send it, it is a draft again."))
            except ValidationFailed as error:
                messages.error(self.request, error.message)
        return instance


class BroadcastViewSet(ModelViewSet):
    model = Broadcast
    name = "broadcasts"
    icon = "mail"
    menu_label = _("Broadcasts")
    add_to_admin_menu = True
    menu_order = 162
    copy_view_enabled = False
    index_view_class = BroadcastIndexView
    edit_view_class = BroadcastEditView
    form_fields = ["name", "template", "segment", "send_at"]
    list_display = [
        "name",
        "segment",
        "status",
        DateColumn("send_at", label=_("Send at"), sort_key="send_at"),
        Column("queued_count", label=_("Queued")),
        Column("sent_count", label=_("Sent")),
        Column("not_sent_count", label=_("Not sent")),
        Column("opened_count", label=_("Opened")),
        Column("clicked_count", label=_("Clicked")),
    ]
    list_filter = ["status"]
    search_fields = ["name"]


class BroadcastSendView(TitledAdminViewMixin, WagtailAdminTemplateMixin, TemplateView):
    """GET: what will be sent, to how many. POST ``when=now|at`` schedules; ``cancel`` undoes."""

    template_name = "nurture/admin/broadcast_send.html"
    header_icon = "mail"

    def parent_breadcrumbs(self):
        return [
            {
                "url": reverse("broadcasts:index"),
                "label": capfirst(Broadcast._meta.verbose_name_plural),
            }
        ]

    def dispatch(self, request, pk):
        if not request.user.has_perm("nurture.change_broadcast"):
            raise PermissionDenied
        self.broadcast = get_object_or_404(
            Broadcast.objects.select_related("template", "segment"), pk=pk
        )
        return super().dispatch(request, pk)

    def get_page_title(self):
        return _g("Send “%(name)s”") % {"name": self.broadcast.name}

    def _segment_error(self) -> str:
        """Why the broadcast's segment cannot be evaluated (then it cannot be sent), or ""."""
        from leadmill.segments.definitions import SegmentDefinitionError
        from leadmill.segments.selectors import segment_count

        try:
            self.members = segment_count(segment=self.broadcast.segment)
        except SegmentDefinitionError as error:
            self.members = 0
            return _g("Its segment “%(name)s” cannot be evaluated: %(why)s Fix it first.") % {
                "name": self.broadcast.segment.name,
                "why": error.message,
            }
        return ""

    def get_context_data(self, **kwargs):
        segment_error = self._segment_error()
        return super().get_context_data(
            broadcast=self.broadcast, members=self.members, segment_error=segment_error, **kwargs
        )

    def post(self, request, pk):
        try:
            if "cancel" in request.POST:
                broadcast_cancel(broadcast=self.broadcast)
                messages.success(request, _g("The broadcast is a draft again."))
            elif segment_error := self._segment_error():
                messages.error(request, segment_error)
            elif request.POST.get("when") == "at" and self.broadcast.send_at:
                broadcast_schedule(broadcast=self.broadcast, send_at=self.broadcast.send_at)
                messages.success(request, _g("Scheduled: it starts at the time set."))
            else:
                broadcast_schedule(broadcast=self.broadcast, send_at=None)
                messages.success(request, _g("Sending starts within a minute."))
        except ValidationFailed as error:
            messages.error(request, error.message)
        return redirect(reverse(f"{BroadcastViewSet.name}:index"))


@hooks.register("register_admin_viewset")
def register_broadcast_viewset():
    return BroadcastViewSet()


@hooks.register("register_admin_urls")
def register_broadcast_urls():
    return [
        path("nurture/broadcasts/<int:pk>/send/", BroadcastSendView.as_view(), name=SEND_URL_NAME)
    ]
