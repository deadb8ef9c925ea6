"""Facts of an HTTP request that every public endpoint reads the same way: the client's
address, the origin a browser page sent it from, Leadmill's own origins, and the CORS
headers of an answer to an allowed origin (the one origin / CORS helper of capture and
tracking)."""

from __future__ import annotations

import base64
import functools
from collections.abc import Collection
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse

# The 1x1 transparent GIF of the tracking pixel and the email open pixel.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def client_ip(request) -> str | None:
    """The client's address (see :func:`client_ip_of`)."""
    return client_ip_of(request.META)


def client_ip_of(meta: dict) -> str | None:
    """The client's address, from a request's ``META`` (or a WSGI environ). Behind a reverse
    proxy (LEADMILL_TRUST_X_FORWARDED_FOR) it is the last X-Forwarded-For entry: the one our
    proxy added, which a client cannot forge (the first entries are whatever the client
    sent, so a rate limit keyed on them could be dodged with a new made-up address per
    request)."""
    if settings.LEADMILL_TRUST_X_FORWARDED_FOR and (forwarded := meta.get("HTTP_X_FORWARDED_FOR")):
        return forwarded.split(",")[-1].strip()
    return meta.get("REMOTE_ADDR")


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) ``url`` in lower case, or "" when it has none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # "http://[" and the like: no origin
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


@functools.lru_cache(maxsize=16)
def _origin_cached(url: str) -> str:
    return origin_of(url)


def base_origin() -> str:
    """The origin of ``settings.BASE_URL`` (worked out once per value)."""
    return _origin_cached(settings.BASE_URL)


def request_origin(meta: dict) -> str:
    """The Origin header, or the origin of the Referer when a browser sent no Origin (from a
    request's ``META`` or a WSGI environ); "" when there is neither (not a browser page)."""
    origin = meta.get("HTTP_ORIGIN", "")
    if origin and origin != "null":
        return origin.rstrip("/").lower()
    return origin_of(meta.get("HTTP_REFERER", ""))


def own_origins(request) -> frozenset[str]:
    """Leadmill's own origins: ``BASE_URL``'s and the one the request was sent to."""
    return frozenset((base_origin(), f"{request.scheme}://{request.get_host()}".lower()))


def cors_headers(origin: str, *, methods: str) -> list[tuple[str, str]]:
    """The CORS headers of an answer to an allowed ``origin`` (``methods``: e.g. "POST, OPTIONS")."""
    return [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", methods),
        ("Access-Control-Allow-Headers", "Content-Type"),
        ("Access-Control-Max-Age", "600"),
        ("Vary", "Origin"),
    ]


def cors_allow(
    response: HttpResponse, *, origin: str, allowed: Collection[str], methods: str
) -> HttpResponse:
    """``response`` with the CORS headers when ``origin`` is one of ``allowed``; unchanged
    otherwise (the browser then keeps the answer from the page). Returns ``response``."""
    if origin and origin in allowed:
        for name, value in cors_headers(origin, methods=methods):
            response[name] = value
    return response
