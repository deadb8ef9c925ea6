"""Webhook endpoints: configure where Leadmill POSTs signed events (docs/webhooks.md).

The secret is answered once, by the create call; no other call shows it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from leadmill.core.text import MAX_INT
from leadmill.integrations import services
from leadmill.integrations.handlers import WEBHOOK_EVENTS
from leadmill.integrations.models import WebhookDelivery, WebhookEndpoint

from . import errors
from .auth import ApiKeyAuth
from .schemas import Line

endpoints = Router(tags=["webhooks"])
EventType = Literal[tuple(sorted(WEBHOOK_EVENTS))]


class EndpointIn(Schema):
    url: Line(2000)
    events: list[EventType] = Field(default_factory=list, max_length=len(WEBHOOK_EVENTS))
    description: Line(200) = ""
    enabled: bool = True


class EndpointPatch(Schema):
    url: Line(2000) | None = None
    events: list[EventType] | None = Field(default=None, max_length=len(WEBHOOK_EVENTS))
    description: Line(200) | None = None
    enabled: bool | None = None


class EndpointOut(Schema):
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str


class EndpointCreated(EndpointOut):
    secret: str = Field(description="whsec_…: shown this once.")


class DeliveryOut(Schema):
    id: int
    webhook_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status: int | None
    last_attempt_at: dt.datetime | None
    last_answer: str


class ReplayFailedIn(Schema):
    since: dt.datetime = Field(
        description="Replay the endpoint's failed deliveries created at or after this time."
    )


class ReplayedOut(Schema):
    replayed: int = Field(description="How many failed deliveries are queued again.")


class SecretRotated(Schema):
    secret: str = Field(description="The new whsec_… secret: shown this once.")
    previous_secret_until: dt.datetime = Field(
        description="Until then the previous secret signs too (beside the new one)."
    )


def _out(endpoint: WebhookEndpoint) -> dict:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
    }


def _invalid(exc: ValidationError):
    """The address is checked beyond what a schema can say (an http(s) URL whose host resolves
    to public addresses): 400 ``url_refused``, like the leads' ``email_invalid``."""
    fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
    return Status(400, {"code": "url_refused", "message": _("Check the fields."), "errors": fields})


NOT_FOUND = {"code": "not_found", "message": "No webhook endpoint with this id."}
DELIVERY_NOT_FOUND = {"code": "not_found", "message": "No delivery with this id at this endpoint."}
EndpointId = Path(..., ge=1, le=MAX_INT)
DeliveryId = Path(..., ge=1, le=MAX_INT)


@endpoints.post(
    "",
    response={201: EndpointCreated, **errors.documented(*errors.AUTH, *errors.BODY)},
    auth=ApiKeyAuth("webhooks:write"),
)
def endpoint_create(request, payload: EndpointIn):
    """Create an endpoint; the answer holds its secret, the only time it is shown."""
    try:
        endpoint = services.endpoint_create(
            url=payload.url,
            events=payload.events,
            description=payload.description,
            enabled=payload.enabled,
        )
    except ValidationError as exc:
        return _invalid(exc)
    return Status(201, {**_out(endpoint), "secret": endpoint.secret})


@endpoints.get(
    "",
    response={200: list[EndpointOut], **errors.documented(*errors.AUTH)},
    auth=ApiKeyAuth("webhooks:read"),
)
def endpoint_list(request):
    """Every endpoint, oldest first (without secrets)."""
    return [_out(e) for e in WebhookEndpoint.objects.order_by("pk")[:1000]]


@endpoints.get(
    "/{int:endpoint_id}",
    response={200: EndpointOut, **errors.documented(*errors.AUTH, 404, 422)},
    auth=ApiKeyAuth("webhooks:read"),
)
def endpoint_get(request, endpoint_id: int = EndpointId):
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    return _out(endpoint) if endpoint else Status(404, NOT_FOUND)


@endpoints.patch(
    "/{int:endpoint_id}",
    response={200: EndpointOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=ApiKeyAuth("webhooks:write"),
)
def endpoint_update(request, payload: EndpointPatch, endpoint_id: int = EndpointId):
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return Status(404, NOT_FOUND)
    try:
        services.endpoint_update(endpoint=endpoint, **payload.dict(exclude_none=True))
    except ValidationError as exc:
        return _invalid(exc)
    return _out(endpoint)


@endpoints.delete(
    "/{int:endpoint_id}",
    response={204: None, **errors.documented(*errors.AUTH, 404, 422)},
    auth=ApiKeyAuth("webhooks:write"),
)
def endpoint_delete(request, endpoint_id: int = EndpointId):
    deleted, _rows = WebhookEndpoint.objects.filter(pk=endpoint_id).delete()
    return Status(204, None) if deleted else Status(404, NOT_FOUND)


@endpoints.get(
    "/{int:endpoint_id}/deliveries",
    response={200: list[DeliveryOut], **errors.documented(*errors.AUTH, 404, 422)},
    auth=ApiKeyAuth("webhooks:read"),
)
def endpoint_deliveries(request, endpoint_id: int = EndpointId):
    """The endpoint's latest 200 deliveries, newest first."""
    if not WebhookEndpoint.objects.filter(pk=endpoint_id).exists():
        return Status(404, NOT_FOUND)
    rows = WebhookDelivery.objects.filter(endpoint_id=endpoint_id).order_by("-pk")[:200]
    return [_delivery_out(d) for d in rows]


def _delivery_out(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.pk,
        "webhook_id": delivery.webhook_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_status": delivery.last_status,
        "last_attempt_at": delivery.last_attempt_at,
        "last_answer": delivery.last_answer,
    }


@endpoints.post(
    "/{int:endpoint_id}/deliveries/{int:delivery_id}/replay",
    response={202: DeliveryOut, **errors.documented(*errors.AUTH, 404, 409, 422)},
    auth=ApiKeyAuth("webhooks:write"),
)
def delivery_replay(request, endpoint_id: int = EndpointId, delivery_id: int = DeliveryId):
    """Send one delivery again, now, with the same ``webhook-id`` (whatever its status);
    answers the delivery as queued."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id, endpoint_id=endpoint_id).first()
    if delivery is None:
        return Status(404, DELIVERY_NOT_FOUND)
    services.delivery_replay(delivery=delivery)
    delivery.refresh_from_db()
    return Status(202, _delivery_out(delivery))


def _utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC (naive: taken as UTC); a time UTC cannot hold (year 1 east of
    Greenwich, year 9999 west of it) becomes the earliest or the latest it can."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        edge = dt.datetime.min if moment.year < 5000 else dt.datetime.max
        return edge.replace(tzinfo=dt.UTC)


@endpoints.post(
    "/{int:endpoint_id}/deliveries/replay-failed",
    response={200: ReplayedOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=ApiKeyAuth("webhooks:write"),
)
def deliveries_replay_failed(request, payload: ReplayFailedIn, endpoint_id: int = EndpointId):
    """Send again, now, every *failed* delivery of the endpoint created since ``since``
    (each with its own ``webhook-id``); answers how many."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return Status(404, NOT_FOUND)
    count = services.deliveries_replay_failed_since(endpoint=endpoint, since=_utc(payload.since))
    return {"replayed": count}


@endpoints.post(
    "/{int:endpoint_id}/rotate-secret",
    response={200: SecretRotated, **errors.documented(*errors.AUTH, 404, 409, 422)},
    auth=ApiKeyAuth("webhooks:write"),
)
def endpoint_secret_rotate(
    request,
    endpoint_id: int = EndpointId,
    grace_hours: int = Query(
        24, ge=0, le=168, description="How long the previous secret keeps signing (hours)."
    ),
):
    """A new secret for the endpoint (answered this once); the previous one keeps signing,
    beside it, for ``grace_hours``, so a receiver holding either verifies meanwhile."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return Status(404, NOT_FOUND)
    secret = services.endpoint_secret_rotate(
        endpoint=endpoint, grace=dt.timedelta(hours=grace_hours)
    )
    return {"secret": secret, "previous_secret_until": endpoint.previous_secret_until}


@endpoints.post(
    "/{int:endpoint_id}/test",
    response={202: None, **errors.documented(*errors.AUTH, 404, 409, 422)},
    auth=ApiKeyAuth("webhooks:write"),
)
def endpoint_test(request, endpoint_id: int = EndpointId):
    """Owe the endpoint a ``webhook.test`` event."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return Status(404, NOT_FOUND)
    services.endpoint_test_event_send(endpoint=endpoint)
    return Status(202, None)
