"""Input and output shapes of the API.

Every text field of an input is one of the annotated types below, whose validators ask
:mod:`leadmill.core.text` (the one input edge) whether the value may be stored: no second
set of rules here. Their bounds are declared with ``Field`` so the published OpenAPI schema
says exactly what the endpoint accepts (schemathesis holds the two to each other).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from leadmill.core.text import (
    MAX_INT,
    MAX_KEYS,
    text_json_schema_pattern,
    text_problem,
    value_problem,
)

MAX_CUSTOM_VALUE_LENGTH = 5000  # as a form's field (capture)


def _single_line(value: str) -> str:
    if (problem := text_problem(value)) is not None:
        raise PydanticCustomError("invalid_text", problem)
    return value


def _multi_line(value: str) -> str:
    if (problem := text_problem(value, multiline=True)) is not None:
        raise PydanticCustomError("invalid_text", problem)
    return value


def _json_value(value: Any) -> Any:
    """The whole decoded value first: NaN / Infinity, integers past 64 bits, too many keys
    and bad text are refused with core.text's message before pydantic looks at the types."""
    if (problem := value_problem(value, max_depth=2, max_keys=MAX_KEYS)) is not None:
        raise PydanticCustomError("invalid_value", problem)
    return value


LINE_PATTERN = text_json_schema_pattern()
TEXT_PATTERN = text_json_schema_pattern(multiline=True)


def Line(max_length: int, **extra: Any) -> Any:  # noqa: N802 (a type, read as one)
    """Single-line text (no line breaks, no control characters) of at most ``max_length``.
    The schema's ``pattern`` says so; core.text enforces it."""
    schema = {"pattern": LINE_PATTERN}
    return Annotated[
        str,
        Field(max_length=max_length, json_schema_extra=schema, **extra),
        AfterValidator(_single_line),
    ]


def Text(max_length: int, **extra: Any) -> Any:  # noqa: N802
    """Multi-line text (tab and line breaks allowed) of at most ``max_length``."""
    schema = {"pattern": TEXT_PATTERN}
    return Annotated[
        str,
        Field(max_length=max_length, json_schema_extra=schema, **extra),
        AfterValidator(_multi_line),
    ]


Id = Annotated[int, Field(ge=1, le=MAX_INT)]
"""A row id: a positive 64-bit integer."""

CustomKey = Line(100, min_length=1)
CustomValue = (
    Text(MAX_CUSTOM_VALUE_LENGTH)
    | Annotated[int, Field(ge=-MAX_INT, le=MAX_INT, strict=True)]
    | Annotated[float, Field(ge=-MAX_INT, le=MAX_INT, allow_inf_nan=False, strict=True)]
    | Annotated[bool, Field(strict=True)]
)
_CUSTOM_SCHEMA = {
    "type": "object",
    "maxProperties": MAX_KEYS,
    "propertyNames": {"minLength": 1, "maxLength": 100, "pattern": LINE_PATTERN},
    "additionalProperties": {
        "anyOf": [
            {"type": "string", "maxLength": MAX_CUSTOM_VALUE_LENGTH, "pattern": TEXT_PATTERN},
            {"type": "integer", "minimum": -MAX_INT, "maximum": MAX_INT},
            {"type": "number", "minimum": -MAX_INT, "maximum": MAX_INT},
            {"type": "boolean"},
        ]
    },
    "description": f"Custom fields: text, numbers or true / false, at most {MAX_KEYS} keys.",
}
# Written out: pydantic would give a key's pattern as ``patternProperties``, which leaves
# every key outside the pattern unconstrained.
Custom = Annotated[
    dict[CustomKey, CustomValue],
    Field(max_length=MAX_KEYS),
    BeforeValidator(_json_value),
    WithJsonSchema(_CUSTOM_SCHEMA),
]

# The address and the phone are checked by contacts.identity (400 ``email_invalid`` /
# ``phone_invalid``); the schema names their formats and says one of them must be given.
Email = Annotated[
    Line(254),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 254,
            "pattern": LINE_PATTERN,
            "anyOf": [{"const": ""}, {"format": "email"}],
        }
    ),
]
Phone = Annotated[
    Line(40),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 40,
            "pattern": LINE_PATTERN,
            "anyOf": [{"const": ""}, {"format": "phone"}],
        }
    ),
]


class ConsentIn(Schema):
    """One consent answer the caller states the person gave, with the text they saw."""

    purpose: Line(50, min_length=1) = Field(
        description="The consent purpose's key, e.g. newsletter"
    )
    text_version: Id = Field(
        description="The version of the purpose's text the person was shown (1, 2 …)"
    )
    granted: Annotated[bool, Field(strict=True)] = Field(
        description="true: agreed; false: declined"
    )


class LeadIn(Schema):
    model_config = {
        "json_schema_extra": {
            "anyOf": [
                {"required": ["email"], "properties": {"email": {"minLength": 1}}},
                {"required": ["phone"], "properties": {"phone": {"minLength": 1}}},
            ]
        },
    }

    email: Email = ""
    phone: Phone = ""
    first_name: Line(100) = ""
    last_name: Line(100) = ""
    company_name: Line(200) = ""
    role: Line(100) = ""
    company_size: Line(50) = ""
    segment: Line(100) = ""
    country: Line(100) = Field(
        "", description="A country name (English or Portuguese) or ISO 3166 code"
    )
    custom: Custom = Field(default_factory=dict)
    utm_source: Line(100) = ""
    utm_medium: Line(100) = ""
    utm_campaign: Line(200) = ""
    utm_term: Line(200) = ""
    utm_content: Line(200) = ""
    referrer: Line(500) = Field("", description="Where the person came from to the page, if known")
    page_url: Line(500) = Field(
        "", description="The page where the person left their details, if any"
    )
    consents: list[ConsentIn] = Field(
        default_factory=list,
        max_length=50,
        description="What the person agreed to, as you showed it to them; recorded with the API key as its author",
    )
    external_id: Line(200) = Field(
        "",
        description="Your id of this lead (or send an Idempotency-Key header): a retry with it writes once",
    )


class LeadOut(Schema):
    id: int
    email: str | None
    phone: str
    first_name: str
    last_name: str
    company_name: str
    role: str
    company_size: str
    segment: str
    country: str = Field(description="ISO 3166-1 code; empty when unknown")
    custom: dict[str, Any]
    owner_id: int | None = Field(description="The owner's user_id (GET /api/v1/owners/)")
    lifecycle_stage: str
    temperature: str
    first_channel: str
    first_source: str
    first_medium: str
    first_campaign: str
    first_utm_source: str
    first_utm_medium: str
    first_utm_campaign: str
    created_at: dt.datetime
    updated_at: dt.datetime


class LeadUpsertOut(Schema):
    lead: LeadOut
    created: bool
    possible_duplicate_of: int | None
    submission_id: int = Field(
        description="The lead's submission: the row that keeps what you sent"
    )
    duplicate: bool = Field(
        description="true: a retry of an external id already received; nothing new was written"
    )


class Error(Schema):
    """The one shape of every error the API answers."""

    code: str = Field(description="Stable: match on it.")
    message: str = Field(description="A sentence for a person, in the request's language.")
    errors: dict[str, list[str]] = Field(
        default_factory=dict, description="Per field (``custom``, ``contact_ids.3``): its messages."
    )
