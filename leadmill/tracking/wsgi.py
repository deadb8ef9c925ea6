"""``POST /t/collect`` served ahead of Django's full handler (docs/adr/0008-lean-collect-path.md,
docs/adr/0010-collect-fast-path.md).

The collect endpoint is the busiest public path. Two layers serve it:

- :class:`FastCollect` takes every batch the view's own admission lets in
  (:func:`.views.collect_admit`: the same checks, in the same order) straight from the WSGI
  environ: no request, middleware or response objects. It stores it with the same
  :func:`.services.events_ingest` and answers 204 with the headers the view's 204 would
  carry. It sends no request signals: it gives its one database connection the care their
  receivers give (:func:`_connection_before`, :func:`_connection_after`).
- Everything else (a refused batch, a preflight, another method) goes, body untouched, to
  :class:`CollectHandler`: the collect view behind the lean middleware, so every error
  answer is the view's own.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import threading
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpResponse
from django.middleware.security import SecurityMiddleware
from django.urls import reverse
from django.views.decorators.cache import never_cache

from leadmill.core.http import base_origin, cors_headers
from leadmill.core.wsgi import LeanHandler, LeanRoute

from . import services, views

logger = logging.getLogger(__name__)


class CollectHandler(LeanHandler):
    """The collect view through the lean middleware (the sender of its request signals)."""

    def __init__(self) -> None:
        super().__init__(views.collect)


def _raise(request, *, exc: BaseException):
    raise exc


class _FailureHandler(LeanHandler):
    """Answers an exception of the fast path as the view's would be answered: through the
    lean middleware (an unreachable database: 503) and Django's exception handling."""

    def __init__(self) -> None:
        super().__init__(_raise)


@dataclasses.dataclass(frozen=True)
class _Host:
    """What a request's host and scheme decide: the request's own origin (allowed to send)
    and the headers of the 204, as the security and cache layers set them."""

    own_origin: str
    headers: tuple[tuple[str, str], ...]


def _host_keys() -> tuple[str, ...]:
    keys = ["wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT"]
    if settings.USE_X_FORWARDED_HOST:
        keys.append("HTTP_X_FORWARDED_HOST")
    if settings.USE_X_FORWARDED_PORT:
        keys.append("HTTP_X_FORWARDED_PORT")
    if settings.SECURE_PROXY_SSL_HEADER:
        keys.append(settings.SECURE_PROXY_SSL_HEADER[0])
    return tuple(keys)


@functools.lru_cache(maxsize=256)
def _host(facts: tuple[tuple[str, str | None], ...]) -> _Host | None:
    """The :class:`_Host` of these environ values, worked out once by Django's own request and
    middleware; ``None`` for a host Django refuses or a request it redirects (to HTTPS)."""
    environ = {key: value for key, value in facts if value is not None}
    request = WSGIRequest(
        {**environ, "REQUEST_METHOD": "POST", "PATH_INFO": "/", "wsgi.input": io.BytesIO()}
    )
    try:
        own_origin = f"{request.scheme}://{request.get_host()}".lower()
    except DisallowedHost:
        return None
    security = SecurityMiddleware(lambda request: HttpResponse(status=204))
    if security.process_request(request) is not None:
        return None
    response = security.process_response(
        request, never_cache(lambda request: HttpResponse(status=204))(request)
    )
    return _Host(own_origin, tuple(response.items()))


def fast_collect_caches_clear() -> None:
    """Forget what the fast path worked out of the settings (tests change them)."""
    _host.cache_clear()


_thread = threading.local()
RECENTLY_USED_S = 1.0


def _connection_before() -> None:
    """The care Django's ``request_started`` gives connections, for the one this path uses.

    A connection this thread used without error less than :data:`RECENTLY_USED_S` ago is
    taken as healthy: the ``SELECT 1`` of Django's health check (``CONN_HEALTH_CHECKS``) was
    a fourth of the statements of a batch. After a pause the check runs as usual.

    The one place Leadmill sets Django's internal ``health_check_done`` (Django has no
    public way to skip the check for a connection just used); its behaviour is pinned by
    ``tracking/tests/test_wsgi_connection.py``.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block:  # a test's transaction: as the test client, leave it be
        return
    if (
        connection.connection is not None
        and time.monotonic() - getattr(_thread, "used_at", 0.0) < RECENTLY_USED_S
    ):
        connection.health_check_done = True
    else:
        connection.close_if_unusable_or_obsolete()


def _connection_after(*, ok: bool) -> None:
    """The care of ``request_finished``: close the connection after an error that broke it,
    or once it is older than ``CONN_MAX_AGE``."""
    connection = connections[DEFAULT_DB_ALIAS]
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
    _thread.used_at = time.monotonic() if ok else 0.0


class FastCollect:
    """``POST /t/collect``'s common case without Django's request machinery; the rest goes
    to ``fallback`` (see the module's docstring)."""

    def __init__(self, fallback: Callable | None = None) -> None:
        self.fallback = fallback or CollectHandler()
        self.failure = _FailureHandler()

    def __call__(self, environ: dict, start_response: Callable, **kwargs) -> Iterable[bytes]:
        body = self._body(environ)
        try:
            accepted = self._accepted(environ, body) if body is not None else None
        except (
            Exception
        ) as exc:  # the tracked sites' read, the rate limit's store: 503 when unreachable
            _connection_after(ok=False)
            environ["wsgi.input"] = io.BytesIO(body or b"")
            return self.failure(environ, start_response, exc=exc)
        if accepted is None:
            if body is not None:
                environ["wsgi.input"] = io.BytesIO(body)  # the view reads it again
            return self.fallback(environ, start_response)
        events, meta, headers = accepted
        _connection_before()
        try:
            services.events_ingest(events=events, meta=meta)
        except (
            Exception
        ) as exc:  # the view's answer: 503 when the database is unreachable, else 500
            _connection_after(ok=False)
            environ["wsgi.input"] = io.BytesIO(body)
            return self.failure(environ, start_response, exc=exc)
        _connection_after(ok=True)
        start_response("204 No Content", headers)
        return []

    @staticmethod
    def _body(environ: dict) -> bytes | None:
        """The body of a POST within the size limit, else ``None`` (unread: the view answers)."""
        length = environ.get("CONTENT_LENGTH") or ""
        if environ.get("REQUEST_METHOD") != "POST" or not length.isdigit():
            return None
        length = int(length)
        if not 0 < length <= settings.LEADMILL_TRACKING_MAX_BODY_BYTES:
            return None
        body = environ["wsgi.input"].read(length)
        return body if len(body) == length else None

    @staticmethod
    def _accepted(environ: dict, body: bytes):
        """``(events, meta, response headers)`` of a batch the fast path may store, or ``None``:
        the view's own admission (:func:`.views.collect_admit`), with the host worked out once."""
        host = _host(tuple((key, environ.get(key)) for key in _host_keys()))
        if host is None:
            return None
        admission = views.collect_admit(
            environ, body=body, own=frozenset((base_origin(), host.own_origin))
        )
        if isinstance(admission, views.Refused):
            return None  # the view admits it again and answers (a 429 counts the batch twice)
        return (
            admission.events,
            admission.meta,
            [*host.headers, *cors_headers(admission.origin, methods=views.CORS_METHODS)],
        )


def collect_route() -> LeanRoute:
    return LeanRoute.exact(reverse("tracking:collect"), FastCollect())
