"""A lead handed in through the API, answered as ``POST /leads/`` answers it: the one intake
(capture's ``lead_intake``) and the status and body that fit what it did. Shared by the
single upsert (router.py) and the batch (leads.py), so one lead of a batch gets exactly the
answer it would have got alone."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import Schema
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from leadmill.capture.intake import (
    IntakeLead,
    IntakeOutcome,
    StatedConsent,
    lead_intake,
    leads_intake_now,
)
from leadmill.capture.models import Channel, Submission
from leadmill.capture.services import RequestMeta
from leadmill.contacts.models import Contact
from leadmill.contacts.services import PROFILE_FIELDS
from leadmill.core.errors import DomainError
from leadmill.tracking.sources import UTM_PARAMS

from . import errors
from .schemas import Error, LeadIn, LeadUpsertOut

BATCH_MAX = 100


def lead_intake_answer(payload: LeadIn, *, key, external_id: str) -> tuple[int, dict]:
    """Hand ``payload`` to the one intake as API key ``key``; returns the answer's status and
    body (201 created, 200 updated or repeated; 400 / 409 / 503 in the error shape).
    Database outages propagate."""
    try:
        outcome = lead_intake(
            lead=_intake_lead(payload, key=key, external_id=external_id), process_now=True
        )
    except DomainError as exc:
        return _refused(exc)
    return _answer(outcome)


def leads_intake_answers(
    payloads: list[LeadIn], *, key, external_ids: list[str]
) -> list[tuple[int, dict]]:
    """:func:`lead_intake_answer` for each of ``payloads``, written and processed together
    (one transaction, set-based: capture's ``leads_intake_now``); each answered alone."""
    outcomes = leads_intake_now(
        leads=[
            _intake_lead(payload, key=key, external_id=external_id)
            for payload, external_id in zip(payloads, external_ids, strict=True)
        ]
    )
    return [
        _refused(outcome) if isinstance(outcome, DomainError) else _answer(outcome)
        for outcome in outcomes
    ]


def _intake_lead(payload: LeadIn, *, key, external_id: str) -> IntakeLead:
    """One API lead as capture's intake takes it."""
    values = payload.dict(include={*PROFILE_FIELDS, "email", "phone"} & set(LeadIn.model_fields))
    values.update({f"custom_{name}": value for name, value in payload.custom.items()})
    return IntakeLead(
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
        external_id=external_id,
        author=f"api_key:{key.pk}",
    )


def _answer(outcome: IntakeOutcome) -> tuple[int, dict]:
    """The status and body ``POST /leads/`` answers for what the intake did with a lead."""
    if outcome.rejection is not None:
        return _refused(outcome.rejection)
    submission = outcome.submission
    if submission.status == Submission.Status.REJECTED:  # a repeated id of a lead refused before
        return 409, errors.error_body(
            "external_id_used",
            _(
                "This external id belongs to a lead that was refused; send the corrected lead with a new one."
            ),
        )
    if submission.status != Submission.Status.ACCEPTED or submission.contact_id is None:
        # Stored, but its processing failed (or, for a repeated id, is still under way): the
        # worker retries it; a retry with the same external id answers with the lead then.
        return 503, errors.error_body(
            "processing_delayed",
            _(
                "The lead was stored but could not be processed yet; it will be. Retry later with the same external id."
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
    return (201 if body["created"] else 200), body


def _refused(exc: DomainError) -> tuple[int, dict]:
    """The status and error body of a lead the intake refused."""
    return errors.domain_status(exc), errors.error_body(exc.code, exc.message, exc.field_errors)


class LeadBatchIn(Schema):
    leads: list[LeadIn] = Field(min_length=1, max_length=BATCH_MAX)

    @model_validator(mode="after")
    def _each_lead_names_someone(self):
        """A lead with neither an email address nor a phone number breaks the schema (its
        ``anyOf``), so it refuses the whole batch with 422 like any other schema error; a
        lead the schema allows and a rule refuses (``email_invalid`` …) answers alone."""
        missing = [str(i) for i, lead in enumerate(self.leads) if not lead.email and not lead.phone]
        if missing:
            raise PydanticCustomError(
                "invalid_value",
                _("Give each lead an email address or a phone number (leads at %(positions)s).")
                % {"positions": ", ".join(missing[:10])},
            )
        return self


class LeadBatchItemOut(Schema):
    index: int = Field(description="The item's position in ``leads``, from 0.")
    status: int = Field(description="The status POST /leads/ would have answered for it.")
    body: LeadUpsertOut | Error = Field(
        description="What POST /leads/ would have answered: the lead, or an error."
    )


class LeadBatchOut(Schema):
    items: list[LeadBatchItemOut]
