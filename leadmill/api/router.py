"""The API object. Endpoints call services and selectors only; errors carry stable codes
in one shape (:mod:`.errors`), and each operation's schema lists the errors it answers."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Header, NinjaAPI, Query, Router, Schema, Status
from pydantic import Field

from leadmill.contacts.models import LifecycleStage, Temperature
from leadmill.core.text import MAX_INT

from . import errors
from . import nurture as nurture_router
from . import owners as owners_router
from . import webhooks as webhooks_router
from .activities import activities as activities_router
from .analytics import analytics as analytics_router
from .auth import ApiKeyAuth
from .events import events as events_router
from .experiments import experiments as experiments_router
from .idempotency import HEADER_SCHEMA, request_concerns
from .intake import lead_intake_answer
from .leads import lead as lead_router
from .outcomes import outcomes as outcomes_router
from .schemas import LINE_PATTERN, LeadIn, LeadOut, LeadUpsertOut, Line
from .segments import segments as segments_router
from .selectors import CURSOR_PATTERN, MAX_PAGE, LeadFilters, leads_filtered, page_after
from .submissions import submissions as submissions_router
from .webhook_docs import webhooks_section


class LeadmillApi(NinjaAPI):
    """The schema names the ``Idempotency-Key`` header on every POST and PATCH: the layer
    that honours it wraps the URL callbacks (:mod:`.idempotency`), outside ninja's view."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema["paths"].values():
            for method, operation in operations.items():
                if method not in {"post", "patch"}:
                    continue
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name", "").lower() == "idempotency-key" for p in parameters):
                    parameters.append(
                        {**HEADER_SCHEMA, "schema": {"type": "string", **IDEMPOTENCY_KEY_SCHEMA}}
                    )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        schema["webhooks"] = webhooks_section(components)  # what Leadmill POSTs to you
        return schema


IDEMPOTENCY_KEY_SCHEMA = {"maxLength": 200, "pattern": LINE_PATTERN}
api = LeadmillApi(
    title="Leadmill API", version="1", urls_namespace="api", parser=errors.JsonParser()
)
errors.install(api)


@api.get("/health", tags=["meta"], auth=None)
def health(request):
    return {"status": "ok"}


leads = Router(tags=["leads"])
IDEMPOTENCY_KEY = Header(
    "",
    alias="Idempotency-Key",
    description="Your id of this request: a retry with the same key and body within 24 hours "
    "gets the first answer again (ADR 33); also the lead's external id when the body has none",
)


@leads.post(
    "/",
    response={
        200: LeadUpsertOut,
        201: LeadUpsertOut,
        **errors.documented(*errors.AUTH, *errors.BODY, 409, 503),
    },
    auth=ApiKeyAuth("leads:write"),
)
def lead_upsert(request, payload: LeadIn, idempotency_key: Line(200) = IDEMPOTENCY_KEY):
    """Hand a lead to capture's one intake: a submission (channel ``api``) with the stated
    consents, processed at once like a form's (the find-by-email-then-phone upsert, consent
    with proof, its source classified, ``LeadCaptured``). 201 when a lead was created, 200
    when one was updated or when ``external_id`` (or ``Idempotency-Key``) repeats an accepted
    one. 400 with ``email_invalid``, ``phone_invalid`` or ``identity_missing`` when the lead
    cannot be known, ``consent_unknown`` for a purpose or text version that does not exist;
    409 ``external_id_used`` when the id belongs to a lead that was refused; 503
    ``processing_delayed`` when the lead was stored but its processing failed (retried)."""
    status, body = lead_intake_answer(
        payload, key=request.auth, external_id=payload.external_id or idempotency_key
    )
    if status in {200, 201}:
        request_concerns(request, body["lead"].pk)
    return Status(status, body)


class LeadPage(Schema):
    items: list[LeadOut]
    next: str | None = Field(
        description="The cursor of the next page (send it as ``after``); null on the last page."
    )


CHANNEL = Query("", description="First touch channel")
SOURCE = Query("", description="First touch source")
CAMPAIGN = Query("", description="First touch campaign")
Stage = Literal[tuple(LifecycleStage.values)]
Temp = Literal[tuple(Temperature.values)]
SCORE_BOUND = Query(
    None, ge=-1e9, le=1e9, allow_inf_nan=False, description="Score bound (included)"
)


@leads.get(
    "/",
    response={200: LeadPage, **errors.documented(*errors.AUTH, 404, 409, *errors.PARAMS)},
    auth=ApiKeyAuth("leads:read"),
)
def lead_list(
    request,
    email: Line(254) = "",
    stage: Stage | None = None,
    temperature: Temp | None = None,
    owner_id: int | None = Query(None, ge=1, le=MAX_INT),
    channel: Line(20) = CHANNEL,
    source: Line(100) = SOURCE,
    campaign: Line(200) = CAMPAIGN,
    created_since: dt.datetime | None = None,
    updated_since: dt.datetime | None = None,
    segment_id: int | None = Query(
        None, ge=1, le=MAX_INT, description="Members of this segment now (404: no such segment)"
    ),
    fit_min: float | None = SCORE_BOUND,
    fit_max: float | None = SCORE_BOUND,
    engagement_min: float | None = SCORE_BOUND,
    engagement_max: float | None = SCORE_BOUND,
    total_min: float | None = SCORE_BOUND,
    total_max: float | None = SCORE_BOUND,
    predictive_min: float | None = Query(None, ge=0, le=1, description="A probability, 0 to 1"),
    predictive_max: float | None = Query(None, ge=0, le=1, description="A probability, 0 to 1"),
    after: str = Query(
        "",
        pattern=CURSOR_PATTERN + "|^$",
        description="The ``next`` cursor of the previous page (opaque); empty: the first page.",
    ),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
):
    """Leads in the order they were created, a page at a time behind an opaque cursor: stable
    while leads are written (a new lead shows on a later page; none is skipped or repeated),
    one query per page whatever its size. Every filter given must match; a score range
    includes its ends (``fit_min=30&total_max=80``), the engagement decayed to now as
    segments compare it; a lead never scored matches no score range."""
    filters = LeadFilters(
        email=email,
        stage=stage or "",
        temperature=temperature or "",
        owner_id=owner_id,
        channel=channel,
        source=source,
        campaign=campaign,
        created_since=created_since,
        updated_since=updated_since,
        segment_id=segment_id,
        scores={
            "score.fit": (fit_min, fit_max),
            "score.engagement": (engagement_min, engagement_max),
            "score.total": (total_min, total_max),
            "score.predictive": (predictive_min, predictive_max),
        },
    )
    items, cursor = page_after(leads_filtered(filters), after=after, limit=limit)
    return {"items": items, "next": cursor}


api.add_router("/v1/leads", leads)
api.add_router("/v1/leads", lead_router)
api.add_router("/v1/sequences", nurture_router.sequences)
api.add_router("/v1/webhook-endpoints", webhooks_router.endpoints)
api.add_router("/v1/owners", owners_router.owners)
api.add_router("/v1/analytics", analytics_router)
api.add_router("/v1/submissions", submissions_router)
api.add_router("/v1/events", events_router)
api.add_router("/v1/segments", segments_router)
api.add_router("/v1/outcomes", outcomes_router)
api.add_router("/v1/activities", activities_router)
api.add_router("/v1/analytics", experiments_router)
