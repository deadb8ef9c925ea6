"""Input and output shapes of the API."""

from __future__ import annotations

import datetime as dt

from ninja import Schema
from pydantic import Field


class LeadIn(Schema):
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    company_name: str = Field("", max_length=200)
    role: str = Field("", max_length=100)
    company_size: str = Field("", max_length=50)
    segment: str = Field("", max_length=100)
    country: str = Field(
        "", max_length=100, description="A country name (English or Portuguese) or ISO 3166 code"
    )
    custom: dict[str, str | int | float | bool] = Field(default_factory=dict)
    utm_source: str = Field("", max_length=100)
    utm_medium: str = Field("", max_length=100)
    utm_campaign: str = Field("", max_length=200)


class LeadOut(Schema):
    id: int
    email: str | None
    phone: str
    first_name: str
    last_name: str
    company_name: str
    lifecycle_stage: str
    temperature: str
    first_source: str
    first_medium: str
    first_campaign: str
    created_at: dt.datetime
    updated_at: dt.datetime


class LeadUpsertOut(Schema):
    lead: LeadOut
    created: bool
    possible_duplicate_of: int | None


class Error(Schema):
    code: str
    message: str
    errors: dict[str, list[str]] = {}
