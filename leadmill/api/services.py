"""API keys: creation, revocation and the check of a presented key."""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets

from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.core.db import instances_where
from leadmill.core.errors import ValidationFailed

from .models import ALL_SCOPES, SCOPES, ApiKey

_PREFIX = re.compile(r"[0-9a-f]{8}")
# ``last_used_at`` is written at most once a minute per key: not one UPDATE per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def api_key_create(
    *,
    name: str,
    scopes: list[str],
    expires_at: dt.datetime | None = None,
    created_by=None,
) -> tuple[ApiKey, str]:
    """Create a key; returns it with the secret, which is never stored and shown only now.

    ``scopes`` may hold ``"all"``: every scope there is now. Raises ValidationFailed for an
    unknown scope, for no scope, and for an expiry in the past.
    """
    wanted = set(scopes)
    if ALL_SCOPES in wanted:
        wanted = (wanted - {ALL_SCOPES}) | set(SCOPES)
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise ValidationFailed(
            _("Unknown scope(s): %(scopes)s. Use: %(known)s.")
            % {"scopes": ", ".join(unknown), "known": ", ".join([ALL_SCOPES, *SCOPES])},
            code="unknown_scope",
            field_errors={"scopes": [_("Unknown scope(s): %s.") % ", ".join(unknown)]},
        )
    if not wanted:
        raise ValidationFailed(
            _("Give the key at least one scope."),
            code="no_scope",
            field_errors={"scopes": [_("Give the key at least one scope.")]},
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            _("The expiry must be in the future."),
            code="expiry_past",
            field_errors={"expires_at": [_("The expiry must be in the future.")]},
        )
    prefix = secrets.token_hex(4)
    secret = f"lm_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=ApiKey.hash(secret),
        scopes=sorted(wanted),
        expires_at=expires_at,
        created_by=created_by,
    )
    return key, secret


def api_key_check(*, secret: str) -> ApiKey | None:
    """The live key (not revoked, not expired) matching ``secret``, or None. Compares hashes
    in constant time; records the use (to the minute)."""
    parts = (secret or "").split("_")
    if len(parts) < 3 or parts[0] != "lm" or not _PREFIX.fullmatch(parts[1]):
        return None  # not one of ours (and never a query with a NUL for PostgreSQL)
    now = timezone.now()
    # One plain SELECT by the unique prefix (every API request runs this; core.db explains).
    found = instances_where(ApiKey, "prefix = %s", [parts[1]])
    key = found[0] if found else None
    if (
        key is None
        or key.revoked_at is not None
        or (key.expires_at is not None and key.expires_at <= now)
        or not hmac.compare_digest(key.key_hash, ApiKey.hash(secret))
    ):
        return None
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def api_key_revoke(*, key: ApiKey) -> None:
    """Revoke ``key`` at once (a revoked key answers 401); revoking twice keeps the first time."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
