"""API keys: creation, revocation and the check of a presented key."""

from __future__ import annotations

import hmac
import re
import secrets

from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.core.errors import ValidationFailed

from .models import SCOPES, ApiKey

_PREFIX = re.compile(r"[0-9a-f]{8}")


def api_key_create(*, name: str, scopes: list[str], created_by=None) -> tuple[ApiKey, str]:
    """Create a key; returns it with the secret, which is never stored and shown only now.

    Raises ValidationFailed for an unknown scope.
    """
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationFailed(
            _("Unknown scope(s): %(scopes)s. Use: %(known)s.")
            % {"scopes": ", ".join(unknown), "known": ", ".join(SCOPES)},
            code="unknown_scope",
        )
    prefix = secrets.token_hex(4)
    secret = f"lm_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=ApiKey.hash(secret),
        scopes=sorted(set(scopes)),
        created_by=created_by,
    )
    return key, secret


def api_key_check(*, secret: str) -> ApiKey | None:
    """The live key matching ``secret``, or None. Compares hashes in constant time."""
    parts = (secret or "").split("_")
    if len(parts) < 3 or parts[0] != "lm" or not _PREFIX.fullmatch(parts[1]):
        return None  # not one of ours (and never a query with a NUL for PostgreSQL)
    key = ApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, ApiKey.hash(secret)):
        return None
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key


def api_key_revoke(*, key: ApiKey) -> None:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
