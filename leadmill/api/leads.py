"""Lead endpoints beyond the list and the upsert (router.py): one lead, its partial update,
merge, stage change, batch upsert, and what hangs on it (timeline, consents, scores,
enrolments). Endpoints call services and selectors only."""

from __future__ import annotations

import datetime
from typing import Literal

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema
from pydantic import Field

from leadmill.contacts.models import Contact, LifecycleStage, Temperature
from leadmill.contacts.services import contact_merge, contact_stage_change, contact_update
from leadmill.core.errors import Conflict, NotFound, ValidationFailed
from leadmill.core.registry import contact_timeline
from leadmill.core.text import MAX_INT
from leadmill.nurture.selectors import contact_enrollments, exit_reason_text, step_name
from leadmill.privacy.models import ErasureRecord
from leadmill.privacy.services import contact_erase
from leadmill.sales.services import lead_owner_set
from leadmill.scoring.reasons import lead_score_reasons
from leadmill.scoring.selectors import contact_score, engagement_now

from . import errors
from .auth import ApiKeyAuth
from .idempotency import request_concerns
from .intake import LeadBatchIn, LeadBatchOut, leads_intake_answers
from .schemas import Custom, Email, Id, LeadOut, Line, Phone
from .selectors import lead_consents, lead_get

lead = Router(tags=["leads"])

LEAD_ID = Path(..., ge=1, le=MAX_INT)
Stage = Literal[tuple(LifecycleStage.values)]
Temp = Literal[tuple(Temperature.values)]
READ = ApiKeyAuth("leads:read")
WRITE = ApiKeyAuth("leads:write")


@lead.get(
    "/{int:lead_id}",
    response={200: LeadOut, **errors.documented(*errors.AUTH, 404, *errors.PARAMS)},
    auth=READ,
)
def lead_detail(request, lead_id: int = LEAD_ID):
    """One lead."""
    return lead_get(lead_id)


class LeadPatch(Schema):
    """Only the fields sent change; ``custom`` keys sent replace those keys, the others stay."""

    email: Email | None = Field(None, description="Empty: the lead has no email any more.")
    phone: Phone | None = None
    first_name: Line(100) | None = None
    last_name: Line(100) | None = None
    company_name: Line(200) | None = None
    role: Line(100) | None = None
    company_size: Line(50) | None = None
    segment: Line(100) | None = None
    country: Line(100) | None = Field(
        None, description="A country name (English or Portuguese) or ISO 3166 code; empty: none"
    )
    temperature: Temp | None = None
    owner_id: Id | None = Field(
        None, description="A sales rep's user_id (GET /api/v1/owners/); null: no owner."
    )
    custom: Custom | None = None


@lead.patch(
    "/{int:lead_id}",
    response={200: LeadOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=WRITE,
)
def lead_patch(request, payload: LeadPatch, lead_id: int = LEAD_ID):
    """Change some of a lead's fields (ContactUpdated; TemperatureChanged; OwnerAssigned).
    400 ``email_invalid``, ``phone_invalid``, ``country_unknown``; 409 ``email_taken`` when
    another lead has the address (merge the two instead); 404 ``owner_unknown``."""
    contact = lead_get(lead_id)
    request_concerns(request, contact.pk)
    sent = payload.dict(exclude_unset=True)
    changes = {key: value for key, value in sent.items() if key not in {"owner_id", "custom"}}
    for key in ("email", "phone", "country", *changes):
        if key in changes and changes[key] is None:
            changes[key] = ""  # null and "" both clear a text field
    if "temperature" in changes and not changes["temperature"]:
        del changes["temperature"]
    if sent.get("custom"):
        changes["custom"] = {**(contact.custom or {}), **sent["custom"]}
    owner = None
    if "owner_id" in sent and sent["owner_id"] is not None:
        owner = (
            get_user_model().objects.filter(pk=sent["owner_id"], sales_rep__isnull=False).first()
        )
        if owner is None:
            raise NotFound(
                _("No sales rep with this user id; see GET /api/v1/owners/."),
                code="owner_unknown",
                field_errors={"owner_id": [_("No sales rep with this user id.")]},
            )
    try:
        contact_update(contact=contact, changes=changes)
    except ValidationFailed as exc:
        if exc.code == "email_taken":
            raise Conflict(exc.message, code=exc.code, field_errors=exc.field_errors) from exc
        raise
    if "owner_id" in sent:
        lead_owner_set(contact=contact, owner=owner)
    return lead_get(lead_id)


class ErasureOut(Schema):
    erasure_id: int = Field(description="The audit row of the erasure (back office: Erasures).")
    lead_id: int = Field(description="The erased lead's former id; it finds nothing now.")
    erased_at: datetime.datetime
    rows: dict[str, int] = Field(
        description='Rows deleted or blanked per model ("app.model"), the lead\'s own included.'
    )


@lead.delete(
    "/{int:lead_id}",
    response={200: ErasureOut, **errors.documented(*errors.AUTH, 404, *errors.PARAMS)},
    auth=ApiKeyAuth("privacy:write"),
)
def lead_erase(
    request,
    lead_id: int = LEAD_ID,
    reason: str = Query(
        "", max_length=500, description="Kept in the audit; do not name the person."
    ),
):
    """Erase a lead and its personal data, and put its email address on the suppression list
    so it is never emailed again (docs/privacy.md, "Erasing a person"). Cannot be undone.
    404 ``lead_not_found`` when there is no such lead (erased or merged already)."""
    record = contact_erase(
        contact_id=lead_id,
        by=None,
        by_name=f"API key {request.auth.name}",
        reason=reason,
        via=ErasureRecord.Via.API,
    )
    return {
        "erasure_id": record.pk,
        "lead_id": record.contact_id,
        "erased_at": record.erased_at,
        "rows": record.rows,
    }


class MergeIn(Schema):
    other_id: Id = Field(description="The lead merged into this one, then deleted.")


@lead.post(
    "/{int:lead_id}/merge",
    response={200: LeadOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=WRITE,
)
def lead_merge(request, payload: MergeIn, lead_id: int = LEAD_ID):
    """Merge ``other_id`` into this lead: every row of the other (submissions, consents,
    events, enrolments …) moves here, blank fields are filled from it, it is deleted and
    ``lead.merged`` is published. 400 ``merge_self`` for the lead itself; 404 when either
    is unknown (or was merged away already)."""
    survivor = lead_get(lead_id)
    if payload.other_id == lead_id:
        raise ValidationFailed(_("A lead cannot be merged with itself."), code="merge_self")
    other = Contact.objects.filter(pk=payload.other_id).first()
    if other is None:
        raise NotFound(_("No lead with other_id; it may have been merged already."))
    request_concerns(request, survivor.pk)
    return contact_merge(survivor=survivor, other=other)


class StageIn(Schema):
    stage: Stage = Field(description="The lifecycle stage to move to.")
    cause: Line(150, min_length=1) = Field(
        description="Why, kept in the lead's stage history (e.g. “demo booked in the CRM”)."
    )


class StageOut(Schema):
    lead: LeadOut
    changed: bool = Field(description="false: the lead was at this stage already.")


@lead.post(
    "/{int:lead_id}/stage",
    response={200: StageOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=WRITE,
)
def lead_stage_change(request, payload: StageIn, lead_id: int = LEAD_ID):
    """Move the lead to another lifecycle stage, kept in its history with the cause (and the
    API key's name) and published as ``lead.stage_changed``."""
    contact = lead_get(lead_id)
    request_concerns(request, contact.pk)
    change = contact_stage_change(
        contact=contact,
        to_stage=payload.stage,
        cause=f"{payload.cause} (API: {request.auth.name})"[:200],
    )
    return {"lead": lead_get(lead_id), "changed": change is not None}


@lead.post(
    "/batch",
    response={200: LeadBatchOut, **errors.documented(*errors.AUTH, *errors.BODY)},
    auth=WRITE,
)
def lead_batch_upsert(request, payload: LeadBatchIn):
    """Create or update up to 100 leads in one call, each through the one intake exactly as
    ``POST /leads/`` (its consents, its external id), written and processed together in one
    transaction: each item answers alone, with the status and body ``POST /leads/`` would
    have given it; one refused lead refuses no other.
    With an ``Idempotency-Key`` and no ``external_id``, item *i*'s external id is
    ``<key>:<i>``."""
    key = request.headers.get("Idempotency-Key", "")
    answers = leads_intake_answers(
        payload.leads,
        key=request.auth,
        external_ids=[
            item.external_id or (f"{key}:{index}"[:200] if key else "")
            for index, item in enumerate(payload.leads)
        ],
    )
    return {
        "items": [
            {"index": index, "status": status, "body": body}
            for index, (status, body) in enumerate(answers)
        ]
    }


class TimelineEntryOut(Schema):
    occurred_at: str
    kind: str = Field(description="submission, consent, stage, page_view, sales_call …")
    title: str
    detail: str


@lead.get(
    "/{int:lead_id}/timeline",
    response={200: list[TimelineEntryOut], **errors.documented(*errors.AUTH, 404, *errors.PARAMS)},
    auth=READ,
)
def lead_timeline(request, lead_id: int = LEAD_ID, limit: int = Query(100, ge=1, le=200)):
    """What happened to the lead, newest first, from every app (the lead page's timeline)."""
    contact = lead_get(lead_id)
    return [
        {
            "occurred_at": entry.occurred_at.isoformat(),
            "kind": entry.kind,
            "title": str(entry.title),
            "detail": str(entry.detail),
        }
        for entry in contact_timeline(contact.pk, limit=limit)
    ]


class ConsentOut(Schema):
    purpose: str = Field(description="The purpose's key")
    granted: bool
    text_version: int | None
    method: str = Field(description="form, api, import, email_link, admin …")
    occurred_at: str
    page_url: str
    author: str = Field(description="Who vouches for it, e.g. api_key:12; empty: the person")
    awaiting_confirmation: bool


class ConsentsOut(Schema):
    current: dict[str, bool] = Field(description="Each purpose's latest answer.")
    history: list[ConsentOut] = Field(description="Every answer, newest first (at most 500).")


@lead.get(
    "/{int:lead_id}/consents",
    response={200: ConsentsOut, **errors.documented(*errors.AUTH, 404, *errors.PARAMS)},
    auth=READ,
)
def lead_consent_list(request, lead_id: int = LEAD_ID):
    """The lead's consent answers with their proof, and the current answer per purpose."""
    contact = lead_get(lead_id)
    history = list(lead_consents(contact_id=contact.pk)[:500])
    current: dict[str, bool] = {}
    for row in reversed(history):
        current[row.purpose.key] = row.granted
    return {
        "current": current,
        "history": [
            {
                "purpose": row.purpose.key,
                "granted": row.granted,
                "text_version": row.purpose_text.version if row.purpose_text else None,
                "method": row.method,
                "occurred_at": row.occurred_at.isoformat(),
                "page_url": row.page_url,
                "author": row.author,
                "awaiting_confirmation": row.awaiting_confirmation,
            }
            for row in history
        ],
    }


class ScoresOut(Schema):
    scored: bool = Field(description="false: never scored yet (all numbers are 0 / null).")
    fit: int
    engagement: float = Field(description="Decayed to now.")
    total: float = Field(description="fit + engagement")
    predictive_probability: float | None = Field(description="0 to 1; null without a model.")
    temperature: str
    lifecycle_stage: str
    reasons: list[str] = Field(description="Why, strongest first, in the request's language.")


@lead.get(
    "/{int:lead_id}/scores",
    response={200: ScoresOut, **errors.documented(*errors.AUTH, 404, *errors.PARAMS)},
    auth=READ,
)
def lead_scores(request, lead_id: int = LEAD_ID):
    """The lead's scores now and the reasons for them (as the lead page shows them)."""
    contact = lead_get(lead_id)
    score = contact_score(contact_id=contact.pk)
    engagement = round(engagement_now(score=score), 2) if score is not None else 0.0
    fit = score.fit_score if score is not None else 0
    return {
        "scored": score is not None,
        "fit": fit,
        "engagement": engagement,
        "total": round(fit + engagement, 2),
        "predictive_probability": score.predictive_probability if score is not None else None,
        "temperature": contact.temperature,
        "lifecycle_stage": contact.lifecycle_stage,
        "reasons": [str(reason) for reason in lead_score_reasons(contact=contact)],
    }


class EnrollmentOut(Schema):
    id: int
    sequence_id: int
    sequence_name: str
    state: str = Field(description="active, completed, exited")
    step: str = Field(description="The step it is at (its name)")
    enrolled_at: str
    ended_at: str | None
    exit_reason: str
    held_out: bool


@lead.get(
    "/{int:lead_id}/enrollments",
    response={200: list[EnrollmentOut], **errors.documented(*errors.AUTH, 404, *errors.PARAMS)},
    auth=READ,
)
def lead_enrollments(request, lead_id: int = LEAD_ID):
    """The lead's sequence enrolments, active first, newest first (at most 200)."""
    contact = lead_get(lead_id)
    return [
        {
            "id": row.pk,
            "sequence_id": row.sequence_id,
            "sequence_name": row.sequence.name,
            "state": row.state,
            "step": str(step_name(row.sequence, row.step_id)),
            "enrolled_at": row.enrolled_at.isoformat(),
            "ended_at": row.ended_at.isoformat() if row.ended_at else None,
            "exit_reason": str(exit_reason_text(row.exit_reason)),
            "held_out": row.held_out,
        }
        for row in contact_enrollments(contact_id=contact.pk)[:200]
    ]
