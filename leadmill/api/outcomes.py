"""Outcomes: a CRM (or sales) records that a lead was won or lost, with the deal's value,
its currency and its date: the ground truth the predictive score learns from."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import Field

from leadmill.contacts.models import Outcome
from leadmill.core.errors import ValidationFailed
from leadmill.sales.services import contact_outcome_record

from . import errors
from .auth import ApiKeyAuth
from .idempotency import request_concerns
from .schemas import Id, Line
from .selectors import lead_get

outcomes = Router(tags=["outcomes"])

MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
NOT_BLANK = r"\S"


class OutcomeIn(Schema):
    model_config = {
        "json_schema_extra": {
            "anyOf": [
                {"properties": {"outcome": {"const": "won"}}},
                {
                    "required": ["reason"],
                    "properties": {"outcome": {"const": "lost"}, "reason": {"pattern": NOT_BLANK}},
                },
            ]
        },
    }

    lead_id: Id
    outcome: Literal[tuple(v for v in Outcome.values if v)] = Field(
        description="won: the lead becomes a customer; lost: say why in ``reason``."
    )
    value: Annotated[str, Field(pattern=MONEY_PATTERN)] | None = Field(
        None, description='The deal\'s value as decimal text, e.g. "1250.00".'
    )
    currency: Literal[(settings.LEADMILL_REPORTING_CURRENCY,)] | None = Field(
        None,
        description="ISO 4217; must be the reporting currency (LEADMILL_REPORTING_CURRENCY) "
        "that costs and revenue are reported in.",
    )
    outcome_at: dt.datetime | None = Field(None, description="When it was decided; default now.")
    reason: Line(200) = Field("", description="Why it was lost (required for lost) or won.")


class OutcomeOut(Schema):
    lead_id: int
    outcome: str
    value: str | None
    currency: str
    outcome_at: dt.datetime | None
    reason: str
    lifecycle_stage: str


@outcomes.post(
    "/",
    response={200: OutcomeOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=ApiKeyAuth("outcomes:write"),
)
def outcome_record(request, payload: OutcomeIn):
    """Record how a lead ended (``outcome.recorded``): won makes it a customer; an open sales
    lead is closed. 409 ``lead_closed`` when its sales lead was closed already (an outcome
    is recorded once)."""
    contact = lead_get(payload.lead_id)
    if payload.outcome == Outcome.LOST and not payload.reason.strip():
        raise ValidationFailed(
            _("Say why the lead was lost."),
            code="reason_required",
            field_errors={"reason": [_("Required.")]},
        )
    request_concerns(request, contact.pk)
    contact_outcome_record(
        contact=contact,
        user=None,
        outcome=payload.outcome,
        value=Decimal(payload.value) if payload.value is not None else None,
        at=payload.outcome_at,
        reason=payload.reason,
    )
    contact = lead_get(payload.lead_id)
    return {
        "lead_id": contact.pk,
        "outcome": contact.outcome,
        "value": None if contact.outcome_value is None else str(contact.outcome_value),
        "currency": settings.LEADMILL_REPORTING_CURRENCY,
        "outcome_at": contact.outcome_at,
        "reason": contact.outcome_reason,
        "lifecycle_stage": contact.lifecycle_stage,
    }
