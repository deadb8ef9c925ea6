"""``POST /t/collect`` served ahead of Django's full handler (docs/adr/0008-lean-collect-path.md).

The collect endpoint is the busiest public path and needs none of the site's middleware but
three: the database-unavailable answer (503), the security headers, and the language of
its error messages. :func:`collect_ahead` wraps Django's WSGI application and hands
requests for the collect URL to the same :func:`.views.collect` view through only those
three; every other request goes to Django unchanged. Django's request signals still fire,
so database connections are reused and closed exactly as for any other request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.core import signals
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.middleware.locale import LocaleMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import reverse, set_script_prefix

from leadmill.core.middleware import DatabaseUnavailableMiddleware

from . import views

# Outermost first, as in settings.MIDDLEWARE; the others (sessions, CSRF, auth, messages,
# clickjacking, redirects, APPEND_SLASH) have nothing to do for this endpoint.
LEAN_MIDDLEWARE = (DatabaseUnavailableMiddleware, SecurityMiddleware, LocaleMiddleware)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class CollectHandler:
    """A WSGI callable for the collect view alone (the sender of its request signals)."""

    def __init__(self) -> None:
        # Built as BaseHandler.load_middleware builds Django's chain, with fewer links.
        self._exception_middleware = []
        handler = convert_exception_to_response(self._view)
        for middleware in reversed(LEAN_MIDDLEWARE):
            instance = middleware(handler)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._chain = handler

    def _view(self, request):
        """The view, with the middleware's ``process_exception`` hooks (a database that
        cannot be reached answers 503), as BaseHandler._get_response calls them."""
        try:
            return views.collect(request)
        except Exception as exc:
            for process_exception in self._exception_middleware:
                if (response := process_exception(request, exc)) is not None:
                    return response
            raise

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        set_script_prefix(get_script_name(environ))
        signals.request_started.send(sender=self.__class__, environ=environ)
        request = WSGIRequest(environ)
        response = self._chain(request)
        response._handler_class = self.__class__  # its close() sends request_finished
        start_response(
            f"{response.status_code} {response.reason_phrase}",
            [*response.items(), *(("Set-Cookie", c.output(header="")) for c in response.cookies.values())],
        )
        return response


def collect_ahead(django_application: WSGIApp) -> WSGIApp:
    """``django_application``, with requests for the collect URL served by :class:`CollectHandler`."""
    collect_handler = CollectHandler()
    collect_path = reverse("tracking:collect")

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == collect_path:
            return collect_handler(environ, start_response)
        return django_application(environ, start_response)

    return application
