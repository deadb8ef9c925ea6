"""Back-office screens of possible duplicates: the review queue, the side-by-side review,
merge and dismiss. Wired in ``wagtail_hooks.py``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView
from wagtail.admin.ui.tables import TitleColumn
from wagtail.admin.views.generic import IndexView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.permissions import ModelPermissionPolicy

from leadmill.core.admin_viewsets import LimitedPermissionPolicy
from leadmill.core.errors import DomainError

from . import selectors
from .admin_leads import DUPLICATES_URL_NAMESPACE, LEADS_URL_NAMESPACE, lead_label
from .models import PossibleDuplicate
from .services import (
    contact_merge,
    possible_duplicate_dismiss,
)


class DuplicateIndexView(IndexView):
    """Open pairs only; each row opens the side-by-side review."""

    def get_base_queryset(self):
        return selectors.possible_duplicates_open()

    def review_url(self, duplicate: PossibleDuplicate) -> str:
        return reverse(f"{DUPLICATES_URL_NAMESPACE}:review", args=[duplicate.pk])

    @cached_property
    def columns(self):
        title = self._get_title_column_class(TitleColumn)(
            "pair",
            label=_("Leads"),
            accessor=lambda d: f"{lead_label(d.contact)}  ~  {lead_label(d.other)}",
            get_url=self.review_url,
        )
        return [title, *super().columns[1:]]

    def get_list_more_buttons(self, instance):
        return []


class _DuplicateMixin:
    permission_policy = LimitedPermissionPolicy(PossibleDuplicate, actions={"view"})

    def get_duplicate(self) -> PossibleDuplicate:
        return get_object_or_404(
            PossibleDuplicate.objects.select_related("contact__company", "other__company"),
            pk=self.kwargs["pk"],
        )


class DuplicateReviewView(
    _DuplicateMixin, PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView
):
    """Two leads side by side, with the choice of which one stays, and the two actions."""

    permission_required = "view"
    template_name = "contacts/admin/duplicate_review.html"
    page_title = _("Possible duplicate")
    header_icon = "group"

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {
                "url": reverse(f"{DUPLICATES_URL_NAMESPACE}:index"),
                "label": _("Possible duplicates"),
            },
            {"url": "", "label": self.get_page_title()},
        ]

    def get_context_data(self, **kwargs):
        duplicate = self.get_duplicate()
        left, right = duplicate.contact, duplicate.other
        context = super().get_context_data(**kwargs)
        context.update(
            duplicate=duplicate,
            left=left,
            right=right,
            left_label=lead_label(left),
            right_label=lead_label(right),
            comparison=selectors.contact_comparison(left=left, right=right),
            left_counts=selectors.contact_related_counts(contact=left),
            right_counts=selectors.contact_related_counts(contact=right),
            # The older contact is the usual survivor: it holds the first touch and history.
            suggested_survivor=min((left, right), key=lambda c: (c.created_at, c.pk)).pk,
            can_resolve=ModelPermissionPolicy(PossibleDuplicate).user_has_permission(
                self.request.user, "change"
            ),
            is_open=duplicate.resolution == PossibleDuplicate.Resolution.OPEN,
            merge_url=reverse(f"{DUPLICATES_URL_NAMESPACE}:merge", args=[duplicate.pk]),
            dismiss_url=reverse(f"{DUPLICATES_URL_NAMESPACE}:dismiss", args=[duplicate.pk]),
            leads_namespace=LEADS_URL_NAMESPACE,
        )
        return context


class _DuplicateActionView(_DuplicateMixin, View):
    """POST only (CSRF-checked by Django's middleware); needs change permission on duplicates."""

    http_method_names = ["post"]

    def dispatch(self, request, *args, **kwargs):
        if not ModelPermissionPolicy(PossibleDuplicate).user_has_permission(request.user, "change"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def queue_url(self) -> str:
        return reverse(f"{DUPLICATES_URL_NAMESPACE}:index")


class DuplicateMergeView(_DuplicateActionView):
    def post(self, request, pk):
        duplicate = self.get_duplicate()
        if duplicate.resolution != PossibleDuplicate.Resolution.OPEN:
            messages.warning(request, _("These leads were already reviewed."))
            return redirect(self.queue_url())
        pair = {duplicate.contact_id: duplicate.contact, duplicate.other_id: duplicate.other}
        try:
            survivor = pair[int(request.POST.get("survivor", ""))]
        except (KeyError, ValueError):
            messages.error(request, _("Choose which of the two leads to keep."))
            return redirect(reverse(f"{DUPLICATES_URL_NAMESPACE}:review", args=[duplicate.pk]))
        other = next(contact for pk_, contact in pair.items() if pk_ != survivor.pk)
        other_label = lead_label(other)
        try:
            contact_merge(survivor=survivor, other=other, actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(self.queue_url())
        messages.success(
            request,
            _("Merged “%(other)s” into “%(survivor)s”; its history is kept here.")
            % {"other": other_label, "survivor": lead_label(survivor)},
        )
        return redirect(reverse(f"{LEADS_URL_NAMESPACE}:inspect", args=[survivor.pk]))


class DuplicateDismissView(_DuplicateActionView):
    def post(self, request, pk):
        duplicate = self.get_duplicate()
        try:
            possible_duplicate_dismiss(duplicate=duplicate, actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Kept “%(left)s” and “%(right)s” as two different leads.")
                % {"left": lead_label(duplicate.contact), "right": lead_label(duplicate.other)},
            )
        return redirect(self.queue_url())
