"""Hot public endpoints served ahead of Django's full handler (docs/adr/0008-lean-collect-path.md,
docs/adr/0009-lean-form-post-path.md).

The busiest public paths (the tracker's event batches, form posts) need only a few of the
site's middleware: the database-unavailable answer (503), the security headers and the
language of their messages, plus whatever an app adds for its own answers: a subset of
``settings.MIDDLEWARE``, in its order (:func:`lean_middleware`; checked at start-up).
:func:`lean_paths_ahead` wraps Django's WSGI application and hands requests for such a path
to its view through only those middleware; every other request goes to Django unchanged.
Django's request signals still fire, so database connections are reused and closed exactly
as for any other request.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence

from django.conf import settings
from django.core import signals
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.urls import set_script_prefix
from django.utils.module_loading import import_string

# The entries of settings.MIDDLEWARE a lean path keeps. The others (sessions, CSRF,
# authentication, messages, APPEND_SLASH, Wagtail's redirects, django-axes) have nothing to
# do for an anonymous, CSRF-exempt endpoint that never answers 404 for a missing slash.
# A path adds what its answers need (capture/wsgi.py: the CSP and the clickjacking header).
LEAN_MIDDLEWARE = (
    "leadmill.core.middleware.DatabaseUnavailableMiddleware",
    "leadmill.core.middleware.AllowedHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.locale.LocaleMiddleware",
)


def lean_middleware_missing(names: Iterable[str] = LEAN_MIDDLEWARE) -> list[str]:
    """The ``names`` that are not in ``settings.MIDDLEWARE`` (the system check
    ``leadmill.core.E001`` and :func:`lean_middleware` refuse them)."""
    return [name for name in names if name not in settings.MIDDLEWARE]


def lean_middleware(*extra: str, only: Iterable[str] | None = None) -> tuple[type, ...]:
    """The classes of settings.MIDDLEWARE a lean path runs, in settings.MIDDLEWARE's order
    (outermost first): :data:`LEAN_MIDDLEWARE` and ``extra``, or ``only`` these. Derived, so
    the lean paths never run a middleware the site has not, nor in another order; a name
    missing from settings.MIDDLEWARE stops the start-up (ImproperlyConfigured)."""
    wanted = tuple(only) if only is not None else (*LEAN_MIDDLEWARE, *extra)
    if missing := lean_middleware_missing(wanted):
        raise ImproperlyConfigured(
            f"lean path middleware not in settings.MIDDLEWARE: {', '.join(missing)}"
        )
    return tuple(import_string(name) for name in settings.MIDDLEWARE if name in wanted)


WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class LeanHandler:
    """A WSGI callable for one view (and the sender of its request signals)."""

    def __init__(self, view: Callable, middleware: Sequence[type] | None = None) -> None:
        """``middleware``: outermost first; by default :func:`lean_middleware`."""
        self.view = view
        middleware = lean_middleware() if middleware is None else middleware
        # Built as BaseHandler.load_middleware builds Django's chain, with fewer links.
        self._exception_middleware = []
        handler = convert_exception_to_response(self._view)
        for middleware_class in reversed(middleware):
            instance = middleware_class(handler)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._chain = handler

    def _view(self, request):
        """The view, with the middleware's ``process_exception`` hooks (a database that
        cannot be reached answers 503), and a template response rendered, as
        BaseHandler._get_response does."""
        try:
            response = self.view(request, **request.lean_kwargs)
            if callable(getattr(response, "render", None)):
                response = response.render()
            return response
        except Exception as exc:
            for process_exception in self._exception_middleware:
                if (response := process_exception(request, exc)) is not None:
                    return response
            raise

    def __call__(self, environ: dict, start_response: Callable, **kwargs) -> Iterable[bytes]:
        set_script_prefix(get_script_name(environ))
        signals.request_started.send(sender=self.__class__, environ=environ)
        request = WSGIRequest(environ)
        request.lean_kwargs = kwargs  # the path's arguments, for the view
        response = self._chain(request)
        response._handler_class = self.__class__  # its close() sends request_finished
        start_response(
            f"{response.status_code} {response.reason_phrase}",
            [
                *response.items(),
                *(("Set-Cookie", c.output(header="")) for c in response.cookies.values()),
            ],
        )
        return response


@dataclasses.dataclass(frozen=True)
class LeanRoute:
    """The paths a :class:`LeanHandler` serves: ``pattern`` must match the whole
    ``PATH_INFO``; its named groups are the view's keyword arguments."""

    pattern: re.Pattern
    handler: LeanHandler

    @classmethod
    def exact(cls, path: str, handler: LeanHandler) -> LeanRoute:
        return cls(re.compile(re.escape(path)), handler)


def lean_paths_ahead(django_application: WSGIApp, routes: Sequence[LeanRoute]) -> WSGIApp:
    """``django_application``, with requests for the routes' paths served by their handlers."""

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for route in routes:
            if match := route.pattern.fullmatch(path):
                return route.handler(environ, start_response, **match.groupdict())
        return django_application(environ, start_response)

    return application


class StaticFilesHandler(LeanHandler):
    """Files under one directory (collected static files, uploaded media), served by the
    application rather than by granian, whose file server cannot add headers: through
    SecurityMiddleware, so each answer carries ``X-Content-Type-Options: nosniff`` (and the
    site's Referrer-Policy and HSTS), and with a cache lifetime. Django's ``static.serve``
    refuses paths outside the directory and answers ``If-Modified-Since`` with 304."""

    def __init__(self, root: str, *, max_age_s: int) -> None:
        from django.views.static import serve

        def static_file(request, path: str):
            response = serve(request, path, document_root=root)
            response["Cache-Control"] = f"public, max-age={max_age_s}"
            return response

        super().__init__(
            static_file,
            middleware=lean_middleware(only=["django.middleware.security.SecurityMiddleware"]),
        )


def static_files_route(url_prefix: str, root: str, *, max_age_s: int = 86_400) -> LeanRoute:
    """``<url_prefix><path>`` served from the files under ``root`` (see :class:`StaticFilesHandler`)."""
    prefix = "/" + url_prefix.strip("/") + "/"
    return LeanRoute(
        re.compile(f"{re.escape(prefix)}(?P<path>.+)"),
        StaticFilesHandler(root, max_age_s=max_age_s),
    )
