"""Bearer API keys with scopes, and the rate limit per key, for django-ninja."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from ninja.errors import HttpError
from ninja.security import HttpBearer

from leadmill.core.ratelimit import rate_limit_hit

from .services import api_key_check


class KeyRateLimited(Exception):
    """A key spent its requests of the window; answered 429 with Retry-After (errors.py)."""

    def __init__(self, *, limit: int, window_s: int, retry_after: int):
        super().__init__(retry_after)
        self.limit, self.window_s, self.retry_after = limit, window_s, retry_after


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer lm_…``; the key must hold every scope the endpoint needs, and
    stay within ``LEADMILL_API_RATE_LIMIT`` requests per ``LEADMILL_API_RATE_WINDOW`` s."""

    def __init__(self, *scopes: str):
        super().__init__()
        self.scopes = scopes

    def authenticate(self, request, token):
        key = api_key_check(secret=token)
        if key is None:
            return None
        limit, window_s = settings.LEADMILL_API_RATE_LIMIT, settings.LEADMILL_API_RATE_WINDOW
        if limit > 0:
            wait = rate_limit_hit(key=f"api-key:{key.pk}", limit=limit, window_s=window_s)
            if wait is not None:
                raise KeyRateLimited(limit=limit, window_s=window_s, retry_after=wait)
        missing = [scope for scope in self.scopes if scope not in key.scopes]
        if missing:
            raise HttpError(
                403,
                _("This API key lacks the scope(s): %(scopes)s.") % {"scopes": ", ".join(missing)},
            )
        return key
