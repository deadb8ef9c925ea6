"""Where a form is embedded: its embed code, and the sites it refused lately.

A site that embeds a form without being in its allowed origins is refused (its visitors see
no form). The refusal is remembered per form in the cache, a few origins each with when it was
last seen, so the form's admin page can say which sites tried: no row per refused request,
and a write at most once per origin every few minutes.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

REFUSED_ORIGINS_KEPT = 20
REFUSED_ORIGINS_DAYS = 30
# A refused origin seen again within this time is not written again.
REFUSED_ORIGIN_REWRITE_S = 600


def _key(form_id: int) -> str:
    return f"capture:refused-origins:{form_id}"


def refused_origin_record(*, form_id: int, origin: str) -> None:
    """Remember that ``origin`` tried to embed or post the form and was refused. Best
    effort: a cache that cannot be reached loses the note, never the request."""
    origin = origin[:200]
    now = timezone.now().timestamp()
    try:
        seen: dict[str, float] = cache.get(_key(form_id)) or {}
        if now - seen.get(origin, 0.0) < REFUSED_ORIGIN_REWRITE_S:
            return
        seen[origin] = now
        newest = sorted(seen.items(), key=lambda item: item[1], reverse=True)
        cache.set(
            _key(form_id),
            dict(newest[:REFUSED_ORIGINS_KEPT]),
            timeout=REFUSED_ORIGINS_DAYS * 86_400,
        )
    except Exception:  # noqa: BLE001 -- a note for the admin page, never worth a failed request
        return


def refused_origins_recent(*, form_id: int) -> list[tuple[str, dt.datetime]]:
    """The origins refused lately for the form, newest first, with when each was last seen."""
    try:
        seen: dict[str, float] = cache.get(_key(form_id)) or {}
    except Exception:  # noqa: BLE001
        return []
    return [
        (origin, dt.datetime.fromtimestamp(at, tz=dt.UTC))
        for origin, at in sorted(seen.items(), key=lambda item: item[1], reverse=True)
    ]


def embed_code(*, slug: str) -> str:
    """The HTML a site owner pastes where the form should appear."""
    return (
        f'<div data-leadmill-form="{slug}"></div>\n'
        f'<script src="{settings.BASE_URL}{settings.STATIC_URL}capture/embed.js" async></script>'
    )
