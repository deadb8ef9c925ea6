"""The API's one error shape, ``{"code", "message", "errors"}``, for every error it answers.

django-ninja answers its own errors as ``{"detail": …}`` (a body it cannot parse, a
validation error, a missing key), Django as an HTML page (a path it does not know, a body
over ``DATA_UPLOAD_MAX_MEMORY_SIZE``). The handlers here turn each into the shape the
schema documents (:func:`documented`), with a stable ``code`` and a translated message.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.parser import Parser

from leadmill.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from leadmill.core.text import text_problem

from .auth import KeyRateLimited
from .schemas import Error

JSON_TYPES = ("application/json",)


class UnsupportedMediaType(Exception):
    """The body of a request is not ``application/json``."""


class JsonParser(Parser):
    """ninja's parser, refusing a body that is not declared as JSON (415). ``json.loads``
    reads NaN and Infinity; the schemas refuse them per field, with core.text's message."""

    def parse_body(self, request: HttpRequest) -> Any:
        content_type = request.content_type or ""
        if content_type not in JSON_TYPES and not content_type.endswith("+json"):
            raise UnsupportedMediaType(content_type)
        return json.loads(request.body)


def error_body(code: str, message: str, errors: dict[str, list[str]] | None = None) -> dict:
    return {"code": code, "message": message, "errors": errors or {}}


def error_response(
    status: int, code: str, message: str, errors: dict | None = None
) -> JsonResponse:
    """An error in the API's shape outside an operation (an unknown path, a wrong method)."""
    return JsonResponse(error_body(code, message, errors), status=status)


def documented(*statuses: int) -> dict[int, type[Error]]:
    """The error answers of an operation for its ``response=`` map (so the schema lists them)."""
    return dict.fromkeys(statuses, Error)


AUTH = (401, 403, 429)  # every operation behind an API key (429: its rate limit)
BODY = (400, 409, 413, 415, 422)  # every operation that reads a JSON body (409: Idempotency-Key)
PARAMS = (422,)  # every operation with path or query parameters


def _field(loc: list | tuple) -> str:
    """``["body", "payload", "contact_ids", 3]`` → ``contact_ids.3``; ``["query", "limit"]`` → ``limit``."""
    parts = [str(part) for part in loc]
    if parts[:1] == ["body"]:
        parts = parts[2:]  # the payload argument's name is no business of the client
    elif parts:
        parts = parts[1:]
    return ".".join(parts) or "__all__"


def _message(error: dict) -> str:
    """A translated sentence for one pydantic error; our own validators carry one already."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind in {"invalid_text", "invalid_value"}:
        return error["msg"]
    if kind == "string_unicode":  # pydantic refuses a lone surrogate before our validators
        return text_problem("\ud800") or ""
    messages = {
        "missing": lambda: _("This field is required."),
        "string_type": lambda: _("Send text here."),
        "string_too_long": lambda: _("At most %(max_length)s characters.") % ctx,
        "string_too_short": lambda: _("At least %(min_length)s characters.") % ctx,
        "int_type": lambda: _("Send a whole number here."),
        "int_parsing": lambda: _("Send a whole number here."),
        "int_from_float": lambda: _("Send a whole number here."),
        "float_type": lambda: _("Send a number here."),
        "float_parsing": lambda: _("Send a number here."),
        "finite_number": lambda: _("Numbers must be finite (NaN and Infinity are not allowed)."),
        "bool_type": lambda: _("Send true or false here."),
        "list_type": lambda: _("Send a list here."),
        "dict_type": lambda: _("Send an object here."),
        "model_type": lambda: _("Send a JSON object."),
        "model_attributes_type": lambda: _("Send a JSON object."),
        "too_long": lambda: _("At most %(max_length)s entries.") % ctx,
        "greater_than_equal": lambda: _("At least %(ge)s.") % ctx,
        "less_than_equal": lambda: _("At most %(le)s.") % ctx,
    }
    try:
        return messages[kind]()
    except (KeyError, TypeError, ValueError):
        pass
    return _("This value is not valid here.")


# A service's error by its kind; ValidationFailed (a service's rule) stays 400 and 422 is
# a request the schema refuses (ADR 12, ADR 33).
DOMAIN_STATUS: dict[type[DomainError], int] = {NotFound: 404, Conflict: 409, PermissionDenied: 403}


def domain_status(exc: DomainError) -> int:
    for kind, status in DOMAIN_STATUS.items():
        if isinstance(exc, kind):
            return status
    return 400


def install(api: NinjaAPI) -> None:
    """Map every error of ``api`` to the one shape."""

    def answer(request, status: int, code: str, message: str, errors: dict | None = None):
        return api.create_response(request, error_body(code, message, errors), status=status)

    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        return answer(request, domain_status(exc), exc.code, exc.message, exc.field_errors)

    @api.exception_handler(KeyRateLimited)
    def key_rate_limited(request, exc: KeyRateLimited):
        response = answer(
            request, 429, "rate_limited", _("Too many requests. Please wait and try again.")
        )
        response["Retry-After"] = str(exc.retry_after)
        response["RateLimit-Limit"] = str(exc.limit)
        response["RateLimit-Remaining"] = "0"
        response["RateLimit-Reset"] = str(exc.retry_after)
        response["RateLimit-Policy"] = f"{exc.limit};w={exc.window_s}"
        return response

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        errors: dict[str, list[str]] = {}
        for error in exc.errors:
            errors.setdefault(_field(error.get("loc", ())), []).append(_message(error))
        return answer(request, 422, "invalid", _("Some fields are not valid; see errors."), errors)

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        cause = exc.__cause__
        if isinstance(cause, UnsupportedMediaType):
            return answer(
                request, 415, "unsupported_media_type", _("Send the body as application/json.")
            )
        if exc.status_code == 400:  # ninja: "Cannot parse request body"
            return answer(request, 400, "malformed", _("The body is not valid JSON (UTF-8)."))
        if isinstance(exc, AuthenticationError):
            response = answer(
                request,
                401,
                "unauthorized",
                _("Send a valid API key: Authorization: Bearer <key>."),
            )
            response["WWW-Authenticate"] = "Bearer"
            return response
        if isinstance(exc, Throttled):
            return answer(
                request, 429, "rate_limited", _("Too many requests. Please wait and try again.")
            )
        if exc.status_code == 403:
            return answer(request, 403, "forbidden", str(exc))
        return answer(request, exc.status_code, "error", str(exc))

    @api.exception_handler(Http404)
    def not_found(request, exc: Http404):
        return answer(request, 404, "not_found", _("Nothing here."))

    @api.exception_handler(RequestDataTooBig)
    def too_large(request, exc: RequestDataTooBig):
        return answer(request, 413, "too_large", _("The body is too large."))


@csrf_exempt  # as every API view: no session is read, and a POST must get this 404, not CSRF's page
def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other path under /api/: the JSON 404, with a hint when only the slash is missing."""
    message = _("No API endpoint at this address; see /api/docs.")
    if not request.path.endswith("/"):
        try:
            resolved = resolve(request.path + "/")
        except Resolver404:
            resolved = None
        if resolved is not None and resolved.func is not not_found_view:
            message = _("No API endpoint at this address; did you mean %(path)s?") % {
                "path": request.path + "/"
            }
    return error_response(404, "not_found", message)


def method_not_allowed(view):
    """ninja answers a method an address does not serve with an empty-bodied 405; give it the shape."""

    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            allowed = response.get("Allow", "")
            response = error_response(
                405,
                "method_not_allowed",
                _("This address answers only %(methods)s.") % {"methods": allowed},
            )
            response["Allow"] = allowed
        return response

    wrapped.csrf_exempt = getattr(view, "csrf_exempt", False)
    return wrapped
