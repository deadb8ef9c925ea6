"""The API object. Endpoints call services and selectors only; errors carry stable codes
in one shape (:mod:`.errors`), and each operation's schema lists the errors it answers."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Header, NinjaAPI, Path, Query, Router, Schema, Status
from pydantic import Field

from leadmill.capture.models import Channel, Submission
from leadmill.capture.services import RequestMeta, StatedConsent, lead_intake
from leadmill.contacts.models import Contact, LifecycleStage, Temperature
from leadmill.contacts.services import PROFILE_FIELDS
from leadmill.core.text import MAX_INT
from leadmill.tracking.sources import UTM_PARAMS

from . import errors
from . import nurture as nurture_router
from . import owners as owners_router
from . import webhooks as webhooks_router
from .analytics import analytics as analytics_router
from .auth import ApiKeyAuth
from .experiments import experiments as experiments_router
from .idempotency import HEADER_SCHEMA
from .schemas import LINE_PATTERN, LeadIn, LeadOut, LeadUpsertOut, Line
from .selectors import CURSOR_PATTERN, MAX_PAGE, LeadFilters, leads_filtered, page_after


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
    values = payload.dict(include={*PROFILE_FIELDS, "email", "phone"} & set(LeadIn.model_fields))
    values.update({f"custom_{key}": value for key, value in payload.custom.items()})
    outcome = lead_intake(
        channel=Channel.API,
        values=values,
        consents=[
            StatedConsent(purpose=c.purpose, text_version=c.text_version, granted=c.granted)
            for c in payload.consents
        ],
        meta=RequestMeta(
            referrer=payload.referrer,
            page_url=payload.page_url,
            utm={name: getattr(payload, name) for name in UTM_PARAMS},
        ),
        external_id=payload.external_id or idempotency_key,
        author=f"api_key:{request.auth.pk}",
        process_now=True,
    )
    if outcome.rejection is not None:
        raise outcome.rejection
    submission = outcome.submission
    if submission.status == Submission.Status.REJECTED:  # a repeated id of a lead refused before
        return Status(
            409,
            errors.error_body(
                "external_id_used",
                _(
                    "This external id belongs to a lead that was refused; send the corrected lead with a new one."
                ),
            ),
        )
    if submission.status != Submission.Status.ACCEPTED or submission.contact_id is None:
        # Stored, but its processing failed (or, for a repeated id, is still under way): the
        # worker retries it; a retry with the same external id answers with the lead then.
        return Status(
            503,
            errors.error_body(
                "processing_delayed",
                _(
                    "The lead was stored but could not be processed yet; it will be. Retry later with the same external id."
                ),
            ),
        )
    if outcome.upsert is None:  # a repeated id: answer with the lead its first delivery made
        lead = Contact.objects.get(pk=submission.contact_id)
        body = {"lead": lead, "created": False, "possible_duplicate_of": None}
    else:
        upsert = outcome.upsert
        body = {
            "lead": upsert.contact,
            "created": upsert.created,
            "possible_duplicate_of": upsert.possible_duplicate_of,
        }
    body.update(submission_id=submission.pk, duplicate=outcome.duplicate)
    return Status(201 if body["created"] else 200, body)


@leads.get(
    "/{int:lead_id}",
    response={200: LeadOut, **errors.documented(*errors.AUTH, 404, *errors.PARAMS)},
    auth=ApiKeyAuth("leads:read"),
)
def lead_get(request, lead_id: int = Path(..., ge=1, le=MAX_INT)):
    contact = Contact.objects.filter(pk=lead_id).first()
    if contact is None:
        return Status(404, {"code": "not_found", "message": _("No lead with this id.")})
    return contact


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


@leads.get(
    "/",
    response={200: LeadPage, **errors.documented(*errors.AUTH, *errors.PARAMS)},
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
    after: str = Query(
        "",
        pattern=CURSOR_PATTERN + "|^$",
        description="The ``next`` cursor of the previous page (opaque); empty: the first page.",
    ),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
):
    """Leads in the order they were created, a page at a time behind an opaque cursor: stable
    while leads are written (a new lead shows on a later page; none is skipped or repeated),
    one query per page whatever its size. Every filter given must match."""
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
    )
    items, cursor = page_after(leads_filtered(filters), after=after, limit=limit)
    return {"items": items, "next": cursor}


api.add_router("/v1/leads", leads)
api.add_router("/v1/sequences", nurture_router.sequences)
api.add_router("/v1/webhook-endpoints", webhooks_router.endpoints)
api.add_router("/v1/owners", owners_router.owners)
api.add_router("/v1/analytics", analytics_router)
api.add_router("/v1/analytics", experiments_router)
