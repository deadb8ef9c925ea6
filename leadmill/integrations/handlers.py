"""The fact stream's subscriber that turns facts into webhook deliveries.

One batch handler for every event type webhooks send: it writes one delivery row per
enabled endpoint that wants the event, in one transaction. Idempotent per event (the bus
delivers at least once): a delivery's ``webhook-id`` is derived from the event's facts and
unique per endpoint, so a second run inserts nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

from django.db import transaction

from leadmill.capture.events import LeadCaptured
from leadmill.contacts.events import (
    ContactCreated,
    ContactsMerged,
    ContactUpdated,
    OutcomeRecorded,
    StageChanged,
    TemperatureChanged,
)
from leadmill.messaging.events import MessageBounced, MessageUnsubscribed
from leadmill.sales.events import OwnerAssigned

from .models import WebhookDelivery, WebhookEndpoint

PAYLOAD_VERSION = 1

# The webhook event type of each fact; the payload's ``data`` is the fact's fields.
WEBHOOK_EVENTS: dict[str, type] = {
    "lead.created": ContactCreated,
    "lead.updated": ContactUpdated,
    "lead.stage_changed": StageChanged,
    "lead.temperature_changed": TemperatureChanged,
    "lead.assigned": OwnerAssigned,
    "lead.unsubscribed": MessageUnsubscribed,
    "lead.merged": ContactsMerged,
    "submission.created": LeadCaptured,
    "outcome.recorded": OutcomeRecorded,
    "message.bounced": MessageBounced,
}
_TYPE_OF_FACT = {cls.__name__: name for name, cls in WEBHOOK_EVENTS.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def payload_of(event: Any) -> tuple[str, dict]:
    """(webhook event type, versioned payload) of a fact."""
    event_type = _TYPE_OF_FACT[type(event).__name__]
    data = {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
    return event_type, {
        "type": event_type,
        "version": PAYLOAD_VERSION,
        "timestamp": _plain(event.occurred_at),
        "data": data,
    }


def webhook_id_of(payload: dict) -> str:
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return "msg_" + digest[:32]


def deliveries_record(batch: list[Any]) -> None:
    """Facts happened (a batch handler): owe each enabled endpoint that wants them one
    delivery each, and wake the sender after commit."""
    from .tasks import deliveries_send_task

    endpoints = list(WebhookEndpoint.objects.filter(enabled=True))
    if not endpoints:
        return
    rows = []
    for event in batch:
        event_type, payload = payload_of(event)
        webhook_id = webhook_id_of(payload)
        for endpoint in endpoints:
            if endpoint.wants(event_type):
                rows.append(
                    WebhookDelivery(
                        endpoint=endpoint,
                        webhook_id=webhook_id,
                        event_type=event_type,
                        payload=payload,
                        next_attempt_at=event.occurred_at,
                    )
                )
    if not rows:
        return
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        transaction.on_commit(deliveries_send_task)
