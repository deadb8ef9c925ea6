"""Public endpoints of tracking: the collect endpoint, the no-JS pixel and the script.

Thin: they check the request (method, size, content type, origin, rate), validate the
batch (:mod:`.schemas`) and hand it to :func:`.services.events_ingest`: one ``INSERT``.
No session, no CSRF token: the Origin check and the rate limit guard them.
"""

from __future__ import annotations

import base64
import json
import logging
from functools import cache
from pathlib import Path

import msgspec
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from leadmill.core.errors import ValidationFailed
from leadmill.core.http import client_ip_of
from leadmill.core.ratelimit import rate_limit_hit
from leadmill.core.text import bytes_decode

from . import services
from .schemas import BatchInvalid, events_parse, visitor_id_valid
from .selectors import site_origins
from .sources import UTM_PARAMS, host_of, origin_of

logger = logging.getLogger(__name__)

COLLECT_CONTENT_TYPES = {"application/json", "text/plain"}  # text/plain: sendBeacon without a preflight
VISITOR_COOKIE = "lm_vid"
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
SCRIPT_PATH = Path(__file__).resolve().parent / "static" / "tracking" / "lm.js"


def own_origins(request) -> set[str]:
    return {origin_of(settings.BASE_URL), f"{request.scheme}://{request.get_host()}".lower()}


def request_origin(meta: dict) -> str:
    """The Origin header, or the origin of the Referer when a browser sent no Origin (from a
    request's ``META`` or a WSGI environ)."""
    origin = meta.get("HTTP_ORIGIN", "")
    if origin and origin != "null":
        return origin.rstrip("/").lower()
    return origin_of(meta.get("HTTP_REFERER", ""))


def _error(status: int, code: str, message: str, *, errors=None, headers=None) -> JsonResponse:
    body = {"status": "error", "code": code, "message": message}
    if errors:
        body["errors"] = errors
    response = JsonResponse(body, status=status)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def cors_headers(origin: str) -> list[tuple[str, str]]:
    """The CORS headers of an answer to an allowed ``origin`` (also the fast path's, tracking/wsgi.py)."""
    return [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Methods", "POST, OPTIONS"),
            ("Access-Control-Allow-Headers", "Content-Type"), ("Access-Control-Max-Age", "600"), ("Vary", "Origin")]


def _cors(response: HttpResponse, origin: str, allowed: set[str] | frozenset[str]) -> HttpResponse:
    if origin and origin in allowed:
        for name, value in cors_headers(origin):
            response[name] = value
    return response


def rate_limited(meta: dict) -> int | None:
    """Batches per client IP: counted in Redis when configured, else in this process's
    memory (``shared=False``): events create no contacts, so a per-process count (the limit
    times the number of web processes) is enough, and the endpoint writes nothing for it."""
    return rate_limit_hit(
        key=f"collect:ip:{client_ip_of(meta) or 'unknown'}", limit=settings.LEADMILL_TRACKING_RATE_LIMIT_PER_IP,
        window_s=settings.LEADMILL_RATE_LIMIT_WINDOW, shared=False,
    )


@csrf_exempt
@never_cache
def collect(request):
    """``POST /t/collect``: a JSON array of events from the tracker. 204 when stored."""
    origin = request_origin(request.META)
    allowed = own_origins(request) | site_origins()
    if request.method == "OPTIONS":
        status = 204 if origin in allowed else 403
        return _cors(HttpResponse(status=status), origin, allowed)
    if request.method != "POST":
        response = _error(405, "method_not_allowed", _("Send events with POST."))
        response["Allow"] = "POST, OPTIONS"
        return response
    max_bytes = settings.LEADMILL_TRACKING_MAX_BODY_BYTES
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > max_bytes:
        return _error(413, "too_large", _("The batch is larger than %(max)d bytes.") % {"max": max_bytes})
    if request.content_type not in COLLECT_CONTENT_TYPES:
        return _error(415, "unsupported_media_type", _("Send the events as application/json (or text/plain holding JSON)."))
    if origin not in allowed:
        return _error(403, "origin_not_allowed", _("This site may not send events; add its origin to the tracked sites."))
    body = request.read(max_bytes + 1)
    if len(body) > max_bytes:
        return _error(413, "too_large", _("The batch is larger than %(max)d bytes.") % {"max": max_bytes})
    try:
        payload = json.loads(bytes_decode(body))
    except ValidationFailed as exc:  # not UTF-8: the one input edge says where
        return _cors(_error(400, "malformed", exc.message), origin, allowed)
    except (ValueError, RecursionError):
        return _cors(_error(400, "malformed", _("The body is not valid JSON.")), origin, allowed)
    try:
        batch = events_parse(payload, max_events=settings.LEADMILL_TRACKING_MAX_EVENTS, now=timezone.now())
    except BatchInvalid as exc:
        return _cors(_error(400, "invalid", exc.message, errors=exc.errors), origin, allowed)
    batch = with_cookie_visitor(batch, request.COOKIES.get(VISITOR_COOKIE, ""))
    if retry_after := rate_limited(request.META):
        return _cors(_error(429, "rate_limited", _("Too many events. Please slow down."),
                            headers={"Retry-After": str(retry_after)}), origin, allowed)
    services.events_ingest(events=batch, meta=_meta(request, allowed))
    return _cors(HttpResponse(status=204), origin, allowed)


def with_cookie_visitor(batch: list, cookie_visitor: str) -> list:
    """The batch with the ``lm_vid`` cookie's visitor on the events that name none: the
    tracker on Leadmill's own pages, whose cookie is ours. A tampered cookie changes nothing."""
    if not visitor_id_valid(cookie_visitor):
        return batch
    return [event if event.visitor_id else msgspec.structs.replace(event, visitor_id=cookie_visitor) for event in batch]


def _meta(request, allowed: set[str] | frozenset[str]) -> services.CollectMeta:
    return services.CollectMeta(
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:1000],
        own_hosts=frozenset(host_of(origin) for origin in allowed),
    )


def _gif(status: int = 200) -> HttpResponse:
    response = HttpResponse(PIXEL, content_type="image/gif", status=status)
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
        "type": "page_view", "url": url, "referrer": params.get("r", ""),
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


@cache
def _script() -> bytes:
    return SCRIPT_PATH.read_bytes()


@require_GET
def script(request):
    """``GET /t/lm.js``: the tracker at a stable address, for other sites to embed."""
    response = HttpResponse(_script(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response
