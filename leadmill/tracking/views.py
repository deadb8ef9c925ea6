"""Public endpoints of tracking: the collect endpoint, the no-JS pixel and the script.

Thin: they check the request (method, size, content type, origin, rate), validate the
batch (:mod:`.schemas`) and hand it to :func:`.services.events_ingest`: one ``INSERT``.
No session, no CSRF token: the Origin check and the rate limit guard them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.http.cookie import parse_cookie
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from leadmill.core.errors import ValidationFailed
from leadmill.core.http import (
    PIXEL_GIF,
    client_ip_of,
    cors_allow,
    origin_of,
    own_origins,
    request_origin,
)
from leadmill.core.ratelimit import rate_limit_hit
from leadmill.core.text import bytes_decode

from . import services
from .schemas import (
    VISITOR_COOKIE,
    BatchInvalid,
    EventIn,
    events_decode,
    events_parse,
    visitor_id_valid,
)
from .selectors import site_origins
from .sources import UTM_PARAMS, host_of

logger = logging.getLogger(__name__)

COLLECT_CONTENT_TYPES = {
    "application/json",
    "text/plain",
}  # text/plain: sendBeacon without a preflight
SCRIPT_PATH = Path(__file__).resolve().parent / "static" / "tracking" / "lm.js"


def _error(status: int, code: str, message: str, *, errors=None, headers=None) -> JsonResponse:
    body = {"status": "error", "code": code, "message": message}
    if errors:
        body["errors"] = errors
    response = JsonResponse(body, status=status)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


CORS_METHODS = "POST, OPTIONS"


def _cors(response: HttpResponse, origin: str, allowed: set[str] | frozenset[str]) -> HttpResponse:
    return cors_allow(response, origin=origin, allowed=allowed, methods=CORS_METHODS)


def rate_limited(meta: dict) -> int | None:
    """Batches per client IP: counted in Redis when configured, else in this process's
    memory (``shared=False``): events create no contacts, so a per-process count (the limit
    times the number of web processes) is enough, and the endpoint writes nothing for it."""
    return rate_limit_hit(
        key=f"collect:ip:{client_ip_of(meta) or 'unknown'}",
        limit=settings.LEADMILL_TRACKING_RATE_LIMIT_PER_IP,
        window_s=settings.LEADMILL_RATE_LIMIT_WINDOW,
        shared=False,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Admitted:
    """A batch :func:`collect_admit` lets in: its events (the cookie's visitor on those that
    name none), their context, and the allowed origin it came from."""

    events: list[EventIn]
    meta: services.CollectMeta
    origin: str


@dataclasses.dataclass(frozen=True, slots=True)
class Refused:
    """Why :func:`collect_admit` keeps a batch out: the answer's status, stable code and
    message; ``cors``: the origin is allowed, so the answer carries its CORS headers."""

    status: int
    code: str
    message: str
    errors: list | None = None
    retry_after: int | None = None
    cors: bool = False


def collect_admit(
    meta: Mapping[str, Any], *, body: bytes, own: frozenset[str]
) -> Admitted | Refused:
    """The one admission of a ``POST /t/collect`` batch, for the view and the fast path
    (tracking/wsgi.py) alike: the content type, the origin (``own``: Leadmill's own origins,
    and the tracked sites), the size, the batch itself (:func:`.schemas.events_decode`, and
    :func:`.schemas.events_parse` for what it cannot judge, with the errors), then the rate
    limit. ``meta``: the request's ``META`` or the WSGI environ."""
    content_type = meta.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if content_type not in COLLECT_CONTENT_TYPES:
        return Refused(
            415,
            "unsupported_media_type",
            _("Send the events as application/json (or text/plain holding JSON)."),
        )
    origin = request_origin(meta)
    allowed = own | site_origins()
    if not origin or origin not in allowed:
        return Refused(
            403,
            "origin_not_allowed",
            _("This site may not send events; add its origin to the tracked sites."),
        )
    max_bytes = settings.LEADMILL_TRACKING_MAX_BODY_BYTES
    if len(body) > max_bytes:
        return Refused(
            413, "too_large", _("The batch is larger than %(max)d bytes.") % {"max": max_bytes}
        )
    max_events, now = settings.LEADMILL_TRACKING_MAX_EVENTS, timezone.now()
    batch = events_decode(body, max_events=max_events, now=now)
    if batch is None:  # an error, or an odd batch: the full parser judges it
        try:
            batch = events_parse(json.loads(bytes_decode(body)), max_events=max_events, now=now)
        except ValidationFailed as exc:  # not UTF-8: the one input edge says where
            return Refused(400, "malformed", exc.message, cors=True)
        except (ValueError, RecursionError):
            return Refused(400, "malformed", _("The body is not valid JSON."), cors=True)
        except BatchInvalid as exc:
            return Refused(400, "invalid", exc.message, errors=exc.errors, cors=True)
    if VISITOR_COOKIE in (cookies := meta.get("HTTP_COOKIE", "")):
        batch = with_cookie_visitor(batch, parse_cookie(cookies).get(VISITOR_COOKIE, ""))
    if retry_after := rate_limited(meta):
        return Refused(
            429,
            "rate_limited",
            _("Too many events. Please slow down."),
            retry_after=retry_after,
            cors=True,
        )
    collect_meta = services.CollectMeta(
        user_agent=meta.get("HTTP_USER_AGENT", "")[:1000], own_hosts=_hosts(allowed)
    )
    return Admitted(batch, collect_meta, origin)


@functools.lru_cache(maxsize=64)
def _hosts(origins: frozenset[str]) -> frozenset[str]:
    return frozenset(host_of(origin) for origin in origins)


@csrf_exempt
@never_cache
def collect(request):
    """``POST /t/collect``: a JSON array of events from the tracker. 204 when stored."""
    own = own_origins(request)
    if request.method == "OPTIONS":
        origin, allowed = request_origin(request.META), own | site_origins()
        return _cors(HttpResponse(status=204 if origin in allowed else 403), origin, allowed)
    if request.method != "POST":
        response = _error(405, "method_not_allowed", _("Send events with POST."))
        response["Allow"] = "POST, OPTIONS"
        return response
    max_bytes = settings.LEADMILL_TRACKING_MAX_BODY_BYTES
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > max_bytes:
        return _error(
            413, "too_large", _("The batch is larger than %(max)d bytes.") % {"max": max_bytes}
        )
    admission = collect_admit(request.META, body=request.read(max_bytes + 1), own=own)
    if isinstance(admission, Refused):
        headers = {"Retry-After": str(admission.retry_after)} if admission.retry_after else None
        response = _error(
            admission.status,
            admission.code,
            admission.message,
            errors=admission.errors,
            headers=headers,
        )
        if admission.cors:
            response = _cors(response, request_origin(request.META), own | site_origins())
        return response
    services.events_ingest(events=admission.events, meta=admission.meta)
    return _cors(HttpResponse(status=204), admission.origin, {admission.origin})


def with_cookie_visitor(batch: list, cookie_visitor: str) -> list:
    """The batch with the ``lm_vid`` cookie's visitor on the events that name none: the
    tracker on Leadmill's own pages, whose cookie is ours. A tampered cookie changes nothing."""
    if not visitor_id_valid(cookie_visitor):
        return batch
    return [
        event if event.visitor_id else msgspec.structs.replace(event, visitor_id=cookie_visitor)
        for event in batch
    ]


def _meta(request, allowed: frozenset[str]) -> services.CollectMeta:
    return services.CollectMeta(
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:1000], own_hosts=_hosts(allowed)
    )


def _gif(status: int = 200) -> HttpResponse:
    response = HttpResponse(PIXEL_GIF, content_type="image/gif", status=status)
    response["Cache-Control"] = "no-store, max-age=0"
    return response


@never_cache
@require_GET
def pixel(request):
    """``GET /t/p.gif?u=<page URL>&r=<referrer>&v=<visitor id>&utm_source=…``: a page view
    for pages without JavaScript. Always answers a 1x1 GIF; stores only a page of one of
    our own or listed sites."""
    params = request.GET
    url = params.get("u", "").strip()
    allowed = own_origins(request) | site_origins()
    if not url or origin_of(url) not in allowed:
        return _gif(400)
    if rate_limited(request.META):
        return _gif(429)
    visitor_id = params.get("v") or request.COOKIES.get(VISITOR_COOKIE, "")
    raw = {
        "type": "page_view",
        "url": url,
        "referrer": params.get("r", ""),
        "visitor_id": visitor_id if visitor_id_valid(visitor_id) else "",
        "utm": {name: params[name] for name in UTM_PARAMS if params.get(name)},
        "consent": params.get("c") == "1",
    }
    try:
        batch = events_parse([raw], max_events=1, now=timezone.now())
    except BatchInvalid:
        return _gif(400)
    services.events_ingest(events=batch, meta=_meta(request, allowed))
    return _gif()


@functools.cache
def _script() -> bytes:
    return SCRIPT_PATH.read_bytes()


@require_GET
def script(request):
    """``GET /t/lm.js``: the tracker at a stable address, for other sites to embed."""
    response = HttpResponse(_script(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response
