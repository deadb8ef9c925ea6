"""Bearer API keys with scopes for django-ninja."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja.errors import HttpError
from ninja.security import HttpBearer

from .services import api_key_check


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer lm_…``; the key must hold every scope the endpoint needs."""

    def __init__(self, *scopes: str):
        super().__init__()
        self.scopes = scopes

    def authenticate(self, request, token):
        key = api_key_check(secret=token)
        if key is None:
            return None
        missing = [scope for scope in self.scopes if scope not in key.scopes]
        if missing:
            raise HttpError(
                403,
                _("This API key lacks the scope(s): %(scopes)s.") % {"scopes": ", ".join(missing)},
            )
        return key
