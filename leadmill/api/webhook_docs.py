"""The OpenAPI document's ``webhooks`` section (OpenAPI 3.1): every event Leadmill POSTs to
a webhook endpoint, with its versioned payload and the Standard Webhooks headers.

Each payload's ``data`` schema is drawn from the fact it is made of (the dataclass in the
publishing app's ``events.py``, as :func:`leadmill.integrations.handlers.payload_of`
serialises it), so the document cannot drift from what is sent; what a field means is
written here, for the developer who receives it. docs/webhooks.md is the guide.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from leadmill.integrations.handlers import PAYLOAD_VERSION, WEBHOOK_EVENTS

REF = "#/components/schemas/{model}"
TEST_EVENT = "webhook.test"

SENT_WHEN = {
    "lead.created": "A new lead exists (from a form, an import, the API or a lead ad).",
    "lead.updated": "Fields of a lead changed; `fields` names them.",
    "lead.stage_changed": "A lead moved between lifecycle stages (lead → MQL → SQL → "
    "customer, or disqualified); `cause` says why (score, intent, manual, sequence…).",
    "lead.temperature_changed": "A lead became cold, warm or hot; `cause` says why.",
    "lead.assigned": "A sales lead got its owner (`rule_id`: the assignment rule, or null "
    "when a person assigned it).",
    "lead.unsubscribed": "The lead unsubscribed through an email (`purpose_ids`: the "
    "consent purposes withdrawn).",
    "lead.merged": "The lead `merged_id` was merged into `survivor_id` and no longer exists.",
    "submission.created": "A lead came in (a form, the API, an import, a lead ad…), with "
    "the source of that touch; `created` is false when it was a known lead.",
    "outcome.recorded": "A lead was won or lost: `value` is the deal's value as decimal "
    'text ("1500.00") or null, `outcome_at` when it happened.',
    "message.bounced": "An email to the lead hard-bounced (the address is suppressed).",
    TEST_EVENT: "Sent by “Send test event” (the admin, or `POST /api/v1/webhook-endpoints/"
    "{id}/test`).",
}

FIELD_MEANINGS = {
    "contact_id": "The lead's id (`GET /api/v1/leads/{id}`).",
    "occurred_at": "When it happened (ISO 8601, UTC). Order by it: delivery order is not promised.",
    "endpoint_id": "The endpoint the test was sent to.",
}

HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The delivery's id: the same on every retry and replay. Keep the ids "
        "you processed: a delivery may arrive more than once.",
        "schema": {"type": "string", "pattern": "^msg_[0-9a-f]{32}$"},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "When this attempt was signed (Unix seconds). Refuse one more than "
        "5 minutes away from your clock.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": 'Space-separated `v1,<base64 HMAC-SHA256 of "{webhook-id}.'
        '{webhook-timestamp}.{raw body}">`, one per secret signing (two during a '
        "rotation). The key is the base64-decoded part of the endpoint's secret after "
        "`whsec_`. See docs/webhooks.md.",
        "schema": {"type": "string"},
    },
]

RESPONSES = {
    "2XX": {"description": "Received. Any 2xx ends the delivery; the body is ignored."},
    "410": {"description": "Gone: the endpoint is disabled at once; nothing more is sent."},
    "default": {
        "description": "Any other answer, or none within the time-outs (connect 5 s, each "
        "read 10 s, the whole 30 s): retried after about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, "
        "10 h and 10 h (±10 %), then failed (replayable)."
    },
}


def schema_name(event_type: str) -> str:
    """``lead.stage_changed`` → ``WebhookLeadStageChangedV1``."""
    words = event_type.replace(".", "_").split("_")
    return "Webhook" + "".join(w.capitalize() for w in words) + f"V{PAYLOAD_VERSION}"


def _data_schema(event_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the ``data`` object's schema, the definitions it refers to)."""
    if event_type == TEST_EVENT:
        data = {
            "type": "object",
            "properties": {"endpoint_id": {"type": "integer"}},
            "required": ["endpoint_id"],
        }
        definitions: dict[str, Any] = {}
    else:
        data = TypeAdapter(WEBHOOK_EVENTS[event_type]).json_schema(
            ref_template=REF, mode="serialization"
        )
        definitions = data.pop("$defs", {})
        data.pop("description", None)  # written for Leadmill's code, not for receivers
    data["title"] = f"{schema_name(event_type)}Data"
    data["required"] = sorted(data.get("properties", {}))  # every field is always sent
    for name, meaning in FIELD_MEANINGS.items():
        if name in data.get("properties", {}):
            data["properties"][name]["description"] = meaning
    return data, definitions


def payload_schema(event_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the JSON Schema of ``event_type``'s body, the definitions it refers to)."""
    data, definitions = _data_schema(event_type)
    return {
        "title": schema_name(event_type),
        "description": f"{SENT_WHEN[event_type]} Payload version {PAYLOAD_VERSION}: fields "
        "may be added within a version; a change that breaks a receiver gets a new version.",
        "type": "object",
        "required": ["type", "version", "timestamp", "data"],
        "properties": {
            "type": {"const": event_type},
            "version": {"const": PAYLOAD_VERSION},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": data,
        },
    }, definitions


def webhooks_section(component_schemas: dict[str, Any]) -> dict[str, Any]:
    """The ``webhooks`` object; adds each payload's schema to ``component_schemas``."""
    section = {}
    for event_type in [*WEBHOOK_EVENTS, TEST_EVENT]:
        schema, definitions = payload_schema(event_type)
        component_schemas.update(definitions)
        component_schemas[schema_name(event_type)] = schema
        section[event_type] = {
            "post": {
                "operationId": "webhook_" + event_type.replace(".", "_"),
                "summary": event_type,
                "description": SENT_WHEN[event_type],
                "tags": ["webhook events"],
                "parameters": HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": REF.format(model=schema_name(event_type))}
                        }
                    },
                },
                "responses": RESPONSES,
            }
        }
    return section
