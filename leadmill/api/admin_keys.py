"""Back-office screens for API keys (issue 14, item 13): the list with last use, a form to
create one with its scopes and expiry (the key is shown once, on the answer to that form),
and revocation. Wired in ``wagtail_hooks.py``; each screen calls one service.

Who may use them: whoever may add API keys (``api.add_apikey``; superusers).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from leadmill.core.admin_viewsets import TitledAdminViewMixin
from leadmill.core.errors import ValidationFailed

from .models import ALL_SCOPES, SCOPES, ApiKey
from .services import api_key_create, api_key_revoke

KEYS_URL_NAME = "api_keys"
KEY_ADD_URL_NAME = "api_key_add"
KEY_REVOKE_URL_NAME = "api_key_revoke"
PERMISSION = "api.add_apikey"


class KeyPermissionMixin:
    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Who uses it, e.g. “CRM sync”.")
    )
    every_scope = forms.BooleanField(
        label=_("Every scope"), required=False, help_text=_("Full access to the API.")
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        # Lazy: the label is translated when the form is shown, not when this module is imported.
        choices=[(scope, format_lazy("{}: {}", scope, label)) for scope, label in SCOPES.items()],
    )
    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty: the key does not expire."),
    )


class ApiKeyListView(
    KeyPermissionMixin, TitledAdminViewMixin, WagtailAdminTemplateMixin, TemplateView
):
    template_name = "api/admin/keys.html"
    page_title = _("API keys")
    header_icon = "key"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        context.update(
            table_id="api-keys",
            rows=[
                {
                    "key": key,
                    "expired": key.expires_at is not None and key.expires_at <= now,
                    "revoke_url": reverse(KEY_REVOKE_URL_NAME, args=[key.pk]),
                }
                for key in ApiKey.objects.select_related("created_by")
            ],
            add_url=reverse(KEY_ADD_URL_NAME),
            docs_url="/api/v1/docs",
        )
        return context


class ApiKeyCreateView(
    KeyPermissionMixin, TitledAdminViewMixin, WagtailAdminTemplateMixin, FormView
):
    """Create a key; the answer is the one page that ever shows it."""

    template_name = "api/admin/key_add.html"
    form_class = ApiKeyForm
    page_title = _("New API key")
    header_icon = "key"

    def parent_breadcrumbs(self):
        return [{"url": reverse(KEYS_URL_NAME), "label": _("API keys")}]

    def form_valid(self, form):
        data = form.cleaned_data
        scopes = [ALL_SCOPES] if data["every_scope"] else list(data["scopes"])
        expires_at = None
        if data["expires_on"]:
            expires_at = dt.datetime.combine(
                data["expires_on"], dt.time.max, tzinfo=timezone.get_current_timezone()
            )
        try:
            key, secret = api_key_create(
                name=data["name"],
                scopes=scopes,
                expires_at=expires_at,
                created_by=self.request.user,
            )
        except ValidationFailed as error:
            for field, field_errors in error.field_errors.items():
                for message in field_errors:
                    form.add_error(field if field in form.fields else None, message)
            if not error.field_errors:
                form.add_error(None, error.message)
            return self.form_invalid(form)
        return self.render_to_response(self.get_context_data(form=None, created=key, secret=secret))


class ApiKeyRevokeView(KeyPermissionMixin, View):
    http_method_names = ["post"]

    def post(self, request, pk: int):
        key = get_object_or_404(ApiKey, pk=pk)
        api_key_revoke(key=key)
        messages.success(request, _("API key “%(name)s” revoked.") % {"name": key.name})
        return redirect(reverse(KEYS_URL_NAME))
