"""Back-office screen of core: the dead letters of the event bus.

A dead letter is a handler's delivery of a domain event that failed every attempt
(``LEADMILL_EVENT_MAX_ATTEMPTS``). It stays here, with its error, until someone fixes the
cause and retries it (one, or every dead letter listed). Nothing else of the outbox is
shown: delivered events are routine, and pending ones retry on their own.
"""

from django.contrib import messages
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.generic import TemplateView
from wagtail import hooks
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic import IndexView, WagtailAdminTemplateMixin
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets import HeaderButton, ListingButton
from wagtail.permission_policies import ModelPermissionPolicy

from . import events
from .admin_viewsets import TitledAdminViewMixin
from .models import EventDelivery

RETRY_URL_NAME = "core_dead_letters_retry"
RETRY_ONE_URL_NAME = "core_dead_letter_retry"
ERROR_SHOWN_CHARS = 200


class DeadLetterPermissionPolicy(ModelPermissionPolicy):
    """The listing needs ``core.view_eventdelivery``; dead letters are never added, edited
    or deleted by hand. Retrying (:class:`DeadLetterRetryView`) needs ``change``."""

    def user_has_permission(self, user, action):
        return action == "view" and super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)


def _may_retry(user) -> bool:
    return user.has_perm("core.change_eventdelivery")


class DeadLetterIndexView(IndexView):
    def get_base_queryset(self):
        return (
            super()
            .get_base_queryset()
            .filter(state=EventDelivery.State.DEAD)
            .select_related("event")
        )

    @property
    def header_buttons(self):
        if not _may_retry(self.request.user):
            return []
        return [HeaderButton(_("Retry all…"), url=reverse(RETRY_URL_NAME), icon_name="rotate")]

    def get_list_buttons(self, instance):
        if not _may_retry(self.request.user):
            return []
        return [
            ListingButton(
                _("Retry…"),
                url=reverse(RETRY_ONE_URL_NAME, args=[instance.pk]),
                icon_name="rotate",
                priority=5,
            )
        ]


class DeadLetterViewSet(ModelViewSet):
    """Deliveries that failed every attempt, newest first: the event, the handler, the last
    error, the attempts."""

    model = EventDelivery
    name = "dead_letters"
    icon = "warning"
    menu_label = gettext_lazy("Dead letters")
    url_prefix = "dead-letters"
    add_to_settings_menu = True
    permission_policy = DeadLetterPermissionPolicy(EventDelivery)
    index_view_class = DeadLetterIndexView
    copy_view_enabled = False
    inspect_view_enabled = False
    add_to_reference_index = False
    list_display = [
        "handler",  # the title column, which carries the row's "Retry…" button
        Column(
            "event",
            label=gettext_lazy("Event"),
            accessor=lambda row: f"{row.event.name} #{row.event_id}",
        ),
        Column("attempts", label=gettext_lazy("Attempts")),
        Column(
            "last_error",
            label=gettext_lazy("Error"),
            accessor=lambda row: row.last_error[:ERROR_SHOWN_CHARS],
        ),
        DateColumn(
            "published", label=gettext_lazy("Published"), accessor=lambda row: row.event.created_at
        ),
    ]
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    form_fields = []  # never used: dead letters are not edited

    def get_permissions_to_register(self):
        return Permission.objects.filter(
            content_type__app_label="core",
            codename__in=["view_eventdelivery", "change_eventdelivery"],
        )


class DeadLetterRetryView(TitledAdminViewMixin, WagtailAdminTemplateMixin, TemplateView):
    """GET: how many dead letters a retry would requeue; POST: requeue them (delivered in
    the background, only the failed handler of each event runs)."""

    template_name = "core/admin/dead_letters_retry.html"
    header_icon = "rotate"

    def parent_breadcrumbs(self):
        return [{"url": reverse(f"{DeadLetterViewSet.name}:index"), "label": _("Event deliveries")}]

    def dispatch(self, request, pk=None):
        if not _may_retry(request.user):
            raise PermissionDenied
        dead = EventDelivery.objects.filter(state=EventDelivery.State.DEAD)
        self.deliveries = [get_object_or_404(dead.select_related("event"), pk=pk)] if pk else None
        self.count = 1 if pk else dead.count()
        return super().dispatch(request, pk)

    def get_page_title(self):
        return _("Retry dead letters")

    def get_context_data(self, **kwargs):
        return super().get_context_data(deliveries=self.deliveries, count=self.count, **kwargs)

    def post(self, request, pk=None):
        if self.deliveries is not None:
            ids = [d.pk for d in self.deliveries]
        else:
            ids = list(
                EventDelivery.objects.filter(state=EventDelivery.State.DEAD).values_list(
                    "pk", flat=True
                )
            )
        requeued = events.event_deliveries_retry(delivery_ids=ids)
        messages.success(
            request,
            ngettext(
                "%(count)s delivery requeued; it runs within a minute.",
                "%(count)s deliveries requeued; they run within a minute.",
                requeued,
            )
            % {"count": requeued},
        )
        return redirect(reverse(f"{DeadLetterViewSet.name}:index"))


@hooks.register("register_admin_viewset")
def register_dead_letter_viewset():
    return DeadLetterViewSet()


@hooks.register("register_admin_urls")
def register_dead_letter_urls():
    return [
        path("dead-letters/retry/", DeadLetterRetryView.as_view(), name=RETRY_URL_NAME),
        path(
            "dead-letters/retry/<int:pk>/", DeadLetterRetryView.as_view(), name=RETRY_ONE_URL_NAME
        ),
    ]
