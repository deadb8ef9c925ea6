"""Server-side event ingest: a batch of what visitors or leads did, checked by the collect
endpoint's own rules (``tracking.schemas.events_parse``) and stored by tracking's ingest
(``events_ingest`` for a visitor's, ``event_record`` for a lead's)."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Annotated, Literal

from django.db import transaction
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import Field, WithJsonSchema

from leadmill.core.errors import NotFound, ValidationFailed
from leadmill.tracking.schemas import (
    CLIENT_TYPES,
    MAX_PROPERTIES_BYTES,
    BatchInvalid,
    events_parse,
)
from leadmill.tracking.selectors import site_origins
from leadmill.tracking.services import CollectMeta, event_record, events_ingest
from leadmill.tracking.sources import host_of

from . import errors
from .auth import ApiKeyAuth
from .schemas import LINE_PATTERN, Custom, Id, Line
from .selectors import leads_existing

events = Router(tags=["events"])

MAX_EVENTS = 100
VISITOR_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
# What the collect endpoint takes as a URL: http(s)://, something after it (tracking.schemas).
URL_PATTERN = r"^(https://[^\s]|http://[^\s]{2})[^\s]*$"
Type = Literal[tuple(str(kind) for kind in CLIENT_TYPES)]
Url = Annotated[
    Line(2000),
    Field(pattern=URL_PATTERN),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 2000,
            "allOf": [{"pattern": LINE_PATTERN}, {"pattern": URL_PATTERN}],
        }
    ),
]


class UtmIn(Schema):
    model_config = {"extra": "forbid"}

    utm_source: Line(200) = ""
    utm_medium: Line(200) = ""
    utm_campaign: Line(200) = ""
    utm_term: Line(200) = ""
    utm_content: Line(200) = ""


class EventIn(Schema):
    model_config = {
        "json_schema_extra": {
            "allOf": [
                {
                    "anyOf": [
                        {"required": ["lead_id"], "properties": {"lead_id": {"type": "integer"}}},
                        {
                            "required": ["visitor_id"],
                            "properties": {"visitor_id": {"type": "string"}},
                        },
                    ]
                },
                {
                    "anyOf": [
                        {
                            "properties": {
                                "type": {
                                    "enum": [
                                        t for t in Type.__args__ if t not in {"page_view", "custom"}
                                    ]
                                }
                            }
                        },
                        {
                            "required": ["url"],
                            "properties": {
                                "type": {"const": "page_view"},
                                "url": {"type": "string"},
                            },
                        },
                        {
                            "required": ["name"],
                            "properties": {
                                "type": {"const": "custom"},
                                "name": {"minLength": 1, "pattern": r"\S"},
                            },
                        },
                    ]
                },
            ]
        },
    }

    type: Type
    lead_id: Id | None = Field(None, description="A lead's event (a lead known to you)")
    visitor_id: Annotated[str, Field(pattern=VISITOR_PATTERN)] | None = Field(
        None, description="An anonymous visitor's event: the tracker's lm_vid cookie"
    )
    name: Line(200) = Field("", description="Required for a custom event")
    url: Url | None = Field(None, description="Required for a page view")
    referrer: Line(2000) = ""
    properties: Custom = Field(default_factory=dict)
    utm: UtmIn = Field(default_factory=UtmIn)
    occurred_at: dt.datetime | None = Field(
        None,
        description="When; as the collect endpoint, trusted within a day before now (earlier "
        "is taken as a day ago, later as now). Default: now.",
    )
    consent: Annotated[bool, Field(strict=True)] = Field(
        False, description="The visitor accepted tracking (LEADMILL_TRACKING_REQUIRE_CONSENT)"
    )
    user_agent: Line(1000) = Field(
        "",
        description="The visitor's browser as your server saw it; empty or a bot's: the event "
        "is kept but flagged a bot's (never scored), as the collect endpoint does",
    )


class EventsIn(Schema):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class EventsOut(Schema):
    stored: int
    bots: int = Field(description="Of those, flagged as a bot's (kept, never scored)")


def _raw(event: EventIn) -> dict:
    """The event as the collect endpoint receives it, for its parser."""
    raw = {
        "type": event.type,
        "name": event.name,
        "url": event.url or "",
        "referrer": event.referrer,
        "properties": event.properties,
        "utm": {key: value for key, value in event.utm.dict().items() if value},
        "consent": event.consent,
    }
    if event.lead_id is None:
        raw["visitor_id"] = event.visitor_id
    if event.occurred_at is not None:
        raw["ts"] = event.occurred_at.timestamp() * 1000
    return raw


@events.post(
    "/",
    response={200: EventsOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=ApiKeyAuth("events:write"),
)
def event_ingest(request, payload: EventsIn):
    """Store up to 100 events at once: all are checked before any is stored. An event names a lead (``lead_id``:
    recorded on the lead, scored at once) or a visitor (``visitor_id``: stored as the
    tracker's are, and attached to the lead once the visitor is identified). ``lead_id``
    wins when both are given. 404 when a lead does not exist; 400
    ``properties_too_large`` past 4096 bytes of properties (as JSON)."""
    too_large = {
        f"events.{index}.properties": [
            _("At most %(limit)d bytes (as JSON).") % {"limit": MAX_PROPERTIES_BYTES}
        ]
        for index, event in enumerate(payload.events)
        if len(json.dumps(event.properties, separators=(",", ":"))) > MAX_PROPERTIES_BYTES
    }
    if too_large:
        raise ValidationFailed(
            _("Some events' properties are too large; nothing was stored."),
            code="properties_too_large",
            field_errors=too_large,
        )
    lead_ids = {event.lead_id for event in payload.events if event.lead_id is not None}
    unknown = lead_ids - leads_existing(lead_ids)
    if unknown:
        raise NotFound(
            _("No lead with these ids: %(ids)s. Nothing was stored.")
            % {"ids": ", ".join(map(str, sorted(unknown)))},
            field_errors={
                f"events.{index}.lead_id": [_("No lead with this id.")]
                for index, event in enumerate(payload.events)
                if event.lead_id in unknown
            },
        )
    try:
        parsed = events_parse(
            [_raw(event) for event in payload.events],
            max_events=MAX_EVENTS,
            now=dt.datetime.now(tz=dt.UTC),
        )
    except BatchInvalid as exc:  # the schema says these rules: this is a bug if it answers
        raise ValidationFailed(
            exc.message,
            code="invalid",
            field_errors={f"events.{e['index']}.{e['field']}": [e["message"]] for e in exc.errors},
        ) from exc
    stored = bots = 0
    by_agent: dict[str, list] = defaultdict(list)
    own_hosts = frozenset(host_of(origin) for origin in site_origins())
    with transaction.atomic():  # the leads' events: all or none
        for event, checked in zip(payload.events, parsed, strict=True):
            if event.lead_id is not None:
                event_record(
                    contact_id=event.lead_id,
                    type=checked.type,
                    name=checked.name,
                    url=checked.url,
                    properties=event.properties,
                    occurred_at=checked.occurred_at,
                )
                stored += 1
            else:
                by_agent[event.user_agent].append(checked)
    for user_agent, batch in by_agent.items():
        result = events_ingest(
            events=batch, meta=CollectMeta(user_agent=user_agent, own_hosts=own_hosts)
        )
        stored, bots = stored + result.stored, bots + result.bots
    return {"stored": stored, "bots": bots}
