"""Back-office screens of integrations (Settings → Webhooks): the endpoints, each one's
delivery log, and the actions on them (send a test event, replay one delivery, replay every
failed delivery since a time). Needs ``integrations.change_webhookendpoint``."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.generic import TemplateView
from wagtail import hooks
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic import IndexView, WagtailAdminTemplateMixin
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets import ListingButton

from leadmill.core.admin_viewsets import TitledAdminViewMixin
from leadmill.core.outgoing import url_problem

from . import services, signing
from .handlers import WEBHOOK_EVENTS
from .models import WebhookDelivery, WebhookEndpoint

TEST_URL_NAME = "integrations_endpoint_test"
REPLAY_URL_NAME = "integrations_delivery_replay"
REPLAY_FAILED_URL_NAME = "integrations_endpoint_replay_failed"
ROTATE_URL_NAME = "integrations_endpoint_secret_rotate"


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=[(name, name) for name in WEBHOOK_EVENTS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: every event."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "enabled"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        problem = url_problem(url, unknown_host_ok=True)
        if problem:
            raise ValidationError(problem)
        return url

    def save(self, commit=True):
        if not self.instance.secret:
            self.instance.secret = signing.secret_new()
        return super().save(commit)


def _may_change(user) -> bool:
    return user.has_perm("integrations.change_webhookendpoint")


class EndpointIndexView(IndexView):
    def get_list_buttons(self, instance):
        buttons = super().get_list_buttons(instance)
        if not _may_change(self.request.user):
            return buttons
        return [
            *buttons,
            ListingButton(
                _("Send test event"),
                url=reverse(TEST_URL_NAME, args=[instance.pk]),
                icon_name="mail",
                priority=30,
            ),
            ListingButton(
                _("Rotate secret…"),
                url=reverse(ROTATE_URL_NAME, args=[instance.pk]),
                icon_name="key",
                priority=35,
            ),
            ListingButton(
                _("Replay failed…"),
                url=reverse(REPLAY_FAILED_URL_NAME, args=[instance.pk]),
                icon_name="rotate",
                priority=40,
            ),
            ListingButton(
                _("Delivery log"),
                url=reverse("webhook_deliveries:index") + f"?endpoint={instance.pk}",
                icon_name="list-ul",
                priority=20,
            ),
        ]


class EndpointViewSet(ModelViewSet):
    model = WebhookEndpoint
    name = "webhook_endpoints"
    icon = "link-external"
    menu_label = gettext_lazy("Webhooks")
    url_prefix = "webhooks"
    add_to_settings_menu = True
    index_view_class = EndpointIndexView
    copy_view_enabled = False
    inspect_view_enabled = False
    list_display = [
        "url",
        "description",
        Column("enabled", label=gettext_lazy("enabled")),
        Column("disabled_reason", label=gettext_lazy("Why disabled")),
    ]

    def get_form_class(self, for_update=False):
        return EndpointForm


class DeliveryIndexView(IndexView):
    def get_base_queryset(self):
        queryset = super().get_base_queryset().select_related("endpoint")
        endpoint = self.request.GET.get("endpoint", "")
        return queryset.filter(endpoint_id=int(endpoint)) if endpoint.isdigit() else queryset

    def get_list_buttons(self, instance):
        if not _may_change(self.request.user):
            return []
        return [
            ListingButton(
                _("Replay"),
                url=reverse(REPLAY_URL_NAME, args=[instance.pk]),
                icon_name="rotate",
                priority=5,
            )
        ]


class DeliveryViewSet(ModelViewSet):
    """Every delivery, newest first: event, endpoint, status, attempts, last answer."""

    model = WebhookDelivery
    name = "webhook_deliveries"
    icon = "list-ul"
    menu_label = gettext_lazy("Webhook deliveries")
    url_prefix = "webhook-deliveries"
    add_to_admin_menu = False
    index_view_class = DeliveryIndexView
    copy_view_enabled = False
    inspect_view_enabled = False
    add_to_reference_index = False
    list_display = [
        "event_type",
        Column("endpoint", label=gettext_lazy("Endpoint")),
        Column("webhook_id", label="webhook-id"),
        "status",
        "attempts",
        "last_status",
        Column("last_answer", label=gettext_lazy("Answer"), accessor=lambda r: r.last_answer[:200]),
        DateColumn("last_attempt_at", label=gettext_lazy("Last attempt")),
    ]
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    form_fields = []


class _ActionView(TitledAdminViewMixin, WagtailAdminTemplateMixin, TemplateView):
    """GET: a page that asks; POST: do it, with the change permission, and go to the log."""

    template_name = "integrations/admin/confirm.html"
    header_icon = "rotate"
    question = ""
    action = gettext_lazy("Confirm")
    ask_hours = False

    def dispatch(self, request, *args, **kwargs):
        if not _may_change(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_page_title(self):
        return str(self.action)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            question=self.question, action=self.action, ask_hours=self.ask_hours, **kwargs
        )


class EndpointTestView(_ActionView):
    question = gettext_lazy("Send a webhook.test event to this endpoint?")
    action = gettext_lazy("Send test event")

    def post(self, request, pk):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        services.endpoint_test_event_send(endpoint=endpoint)
        messages.success(request, _("Test event queued; it is sent within a minute."))
        return redirect(reverse("webhook_deliveries:index") + f"?endpoint={pk}")


class DeliveryReplayView(_ActionView):
    question = gettext_lazy("Send this delivery again, with the same webhook-id?")
    action = gettext_lazy("Replay")

    def post(self, request, pk):
        delivery = get_object_or_404(WebhookDelivery, pk=pk)
        services.delivery_replay(delivery=delivery)
        messages.success(request, _("Delivery queued again, with the same webhook-id."))
        return redirect(reverse("webhook_deliveries:index") + f"?endpoint={delivery.endpoint_id}")


class EndpointReplayFailedView(_ActionView):
    question = gettext_lazy("Send again every failed delivery of this endpoint since:")
    action = gettext_lazy("Replay failed deliveries")
    ask_hours = True

    def post(self, request, pk):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        try:
            hours = max(0, int(request.POST.get("hours", "24")))
        except ValueError:
            hours = 24
        count = services.deliveries_replay_failed_since(
            endpoint=endpoint, since=timezone.now() - dt.timedelta(hours=hours)
        )
        messages.success(
            request,
            ngettext(
                "%(count)s failed delivery queued again.",
                "%(count)s failed deliveries queued again.",
                count,
            )
            % {"count": count},
        )
        return redirect(reverse("webhook_deliveries:index") + f"?endpoint={pk}")


class EndpointSecretRotateView(_ActionView):
    """POST: a new secret, shown on the page it answers with (once: it is not kept in a
    message or the session); the previous one keeps signing for the hours asked."""

    header_icon = "key"
    question = gettext_lazy(
        "Give this endpoint a new secret? The current one keeps signing, beside the new one, "
        "for the hours below, so your receiver can switch without missing a delivery."
    )
    action = gettext_lazy("Rotate secret")
    ask_grace = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(ask_grace=self.ask_grace, **kwargs)

    def post(self, request, pk):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        try:
            hours = min(max(0, int(request.POST.get("grace_hours", "24"))), 168)
        except ValueError:
            hours = 24
        secret = services.endpoint_secret_rotate(endpoint=endpoint, grace=dt.timedelta(hours=hours))
        context = self.get_context_data(
            endpoint=endpoint,
            secret=secret,
            previous_secret_until=endpoint.previous_secret_until,
            index_url=reverse("webhook_endpoints:index"),
        )
        return self.response_class(
            request=request, template="integrations/admin/secret_rotated.html", context=context
        )


@hooks.register("register_admin_viewset")
def register_webhook_viewsets():
    return [EndpointViewSet(), DeliveryViewSet()]


@hooks.register("register_admin_urls")
def register_webhook_action_urls():
    return [
        path("webhooks/<int:pk>/test/", EndpointTestView.as_view(), name=TEST_URL_NAME),
        path(
            "webhooks/<int:pk>/replay-failed/",
            EndpointReplayFailedView.as_view(),
            name=REPLAY_FAILED_URL_NAME,
        ),
        path(
            "webhooks/<int:pk>/rotate-secret/",
            EndpointSecretRotateView.as_view(),
            name=ROTATE_URL_NAME,
        ),
        path(
            "webhook-deliveries/<int:pk>/replay/",
            DeliveryReplayView.as_view(),
            name=REPLAY_URL_NAME,
        ),
    ]
