"""``Idempotency-Key`` on every POST and PATCH of the API (ADR 33).

The first request with a key (per API key) stores a row "in flight", runs, and stores its
answer. A retry with the same key and the same method, path and body within 24 hours gets
that answer again (status and body, and ``Idempotent-Replayed: true``) without the work
being done again; with another body it gets 422 ``idempotency_key_reused``; while the first
is still running, 409 ``idempotency_in_flight``. Answers that did no work (401, 403, 429)
and failures (5xx) are not kept: the client may retry them with the same key.

It wraps the URL callbacks (``urls.py``), around ninja: the body is read raw, so a body
ninja would refuse is keyed too.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.core.text import text_problem

from .errors import error_response
from .models import ApiKey, IdempotentRequest

HEADER = "HTTP_IDEMPOTENCY_KEY"
METHODS = {"POST", "PATCH"}
MAX_LENGTH = 200
REPLAY_FOR = dt.timedelta(hours=24)
NOT_KEPT = {401, 403, 429}


def _request_hash(request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _bearer_hash(request) -> str | None:
    scheme, _sep, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return ApiKey.hash(token.strip())


HEADER_SCHEMA = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Your id of this request: a retry with the same key and body within 24 hours "
    "gets the first answer again, without the work being done twice (ADR 33).",
}


def _stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=settings.LEADMILL_API_IDEMPOTENCY_IN_FLIGHT_S)


def _claim(key_hash: str, idempotency_key: str, request_hash: str):
    """The row this request now holds, or the row of the request that holds the key."""
    now = timezone.now()
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return IdempotentRequest.objects.create(
                    key_hash=key_hash,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    created_at=now,
                ), True
        except IntegrityError:
            existing = IdempotentRequest.objects.filter(
                key_hash=key_hash, idempotency_key=idempotency_key
            ).first()
            if existing is None:
                continue  # deleted between the two statements: claim it again
            expired = existing.created_at <= now - REPLAY_FOR
            abandoned = (
                existing.completed_at is None and existing.created_at <= now - _stale_after()
            )
            if expired or abandoned:  # a day old, or its process died: the key is free again
                IdempotentRequest.objects.filter(
                    pk=existing.pk, created_at=existing.created_at
                ).delete()
                continue
            return existing, False
    return existing, False


def request_concerns(request, contact_id: int) -> None:
    """Say that the request's answer holds this lead's data: its stored answer (kept 24 hours
    for replays) is then found by the lead's id, so merge and erasure find it through the
    personal-data registry (``api/personal_data.py``)."""
    request.idempotency_contact_id = contact_id


def idempotent(view):
    """Wrap an API URL callback with the ``Idempotency-Key`` rules above."""

    def wrapped(request, *args, **kwargs):
        idempotency_key = request.META.get(HEADER, "")
        if request.method not in METHODS or not idempotency_key:
            return view(request, *args, **kwargs)
        key_hash = _bearer_hash(request)
        if key_hash is None:  # no key: ninja answers 401, nothing to keep
            return view(request, *args, **kwargs)
        problem = text_problem(idempotency_key)
        if problem is None and len(idempotency_key) > MAX_LENGTH:
            problem = _("At most %(max_length)s characters.") % {"max_length": MAX_LENGTH}
        if problem is not None:
            return error_response(
                422,
                "invalid",
                _("Some fields are not valid; see errors."),
                {"Idempotency-Key": [problem]},
            )
        try:
            request_hash = _request_hash(request)
        except RequestDataTooBig:
            return error_response(413, "too_large", _("The body is too large."))
        row, claimed = _claim(key_hash, idempotency_key, request_hash)
        if not claimed:
            if row.request_hash != request_hash:
                return error_response(
                    422,
                    "idempotency_key_reused",
                    _(
                        "This Idempotency-Key was used with another request; send a new key for a new request."
                    ),
                )
            if row.completed_at is None:
                response = error_response(
                    409,
                    "idempotency_in_flight",
                    _("A request with this Idempotency-Key is still running; retry in a moment."),
                )
                response["Retry-After"] = "1"
                return response
            replay = HttpResponse(
                bytes(row.response_body or b""),
                status=row.response_status,
                content_type=row.response_content_type or "application/json",
            )
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = view(request, *args, **kwargs)
        except BaseException:
            IdempotentRequest.objects.filter(pk=row.pk).delete()
            raise
        if response.status_code >= 500 or response.status_code in NOT_KEPT or response.streaming:
            IdempotentRequest.objects.filter(pk=row.pk).delete()
        else:
            IdempotentRequest.objects.filter(pk=row.pk).update(
                completed_at=timezone.now(),
                response_status=response.status_code,
                response_body=response.content,
                response_content_type=response.get("Content-Type", "")[:100],
                contact_id=getattr(request, "idempotency_contact_id", None),
            )
        return response

    wrapped.csrf_exempt = getattr(view, "csrf_exempt", False)
    return wrapped


def idempotent_requests_prune(*, now: dt.datetime | None = None) -> int:
    """Delete the rows past their 24 hours; returns how many."""
    cutoff = (now or timezone.now()) - REPLAY_FOR
    deleted, _kinds = IdempotentRequest.objects.filter(created_at__lte=cutoff).delete()
    return deleted
