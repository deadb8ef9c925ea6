"""Turn an unreachable database into a clear 503 instead of a 500 or a false success."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)


def is_database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean the database cannot be reached or is locked, not bad SQL."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        text = str(exc).lower()
        return not any(word in text for word in ("syntax error", "no such column", "no such table"))
    return False


def _shared_store_errors() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - redis is a dependency
        return ()
    return (RedisConnectionError, RedisTimeoutError)


SHARED_STORE_ERRORS = _shared_store_errors()


def is_unavailable(exc: BaseException) -> bool:
    """True when the database (:func:`is_database_unavailable`) or the shared store every
    process counts in (Redis: rate limits, the cache) cannot be reached."""
    return is_database_unavailable(exc) or isinstance(exc, SHARED_STORE_ERRORS)


def service_unavailable(request=None) -> HttpResponse:
    message = _(
        "The service is briefly unavailable; nothing was saved. Please try again in a minute."
    )
    wants_json = request is not None and (
        request.content_type == "application/json"
        or "application/json" in request.META.get("HTTP_ACCEPT", "")
    )
    if wants_json:
        response = JsonResponse(
            {"status": "error", "code": "unavailable", "message": message}, status=503
        )
    else:
        response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "30"
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        except Exception as exc:
            if is_unavailable(exc):
                logger.error("database unavailable on %s %s: %s", request.method, request.path, exc)
                return service_unavailable(request)
            raise

    def process_exception(self, request, exception):
        if is_unavailable(exception):
            logger.error(
                "database unavailable on %s %s: %s", request.method, request.path, exception
            )
            return service_unavailable(request)
        return None


class AllowedHostMiddleware:
    """Refuse a request whose Host is not in ``ALLOWED_HOSTS`` (400), as Django's full stack
    does through ``CommonMiddleware``. The lean paths (leadmill.core.wsgi) skip that
    middleware, and nothing else there reads the host when a post has no Origin header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.get_host()  # raises DisallowedHost, which Django answers with 400
        return self.get_response(request)
