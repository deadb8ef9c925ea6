"""Nurture endpoints: the sequences, and enrolling leads in one or taking them out."""

from __future__ import annotations

from ninja import Path, Query, Router, Schema
from pydantic import Field

from leadmill.core.text import MAX_INT
from leadmill.nurture.selectors import enrollment_targets, sequence_get, sequences_with_counts
from leadmill.nurture.services import enrollments_exit_bulk, enrollments_start_bulk
from leadmill.nurture.tasks import nurture_kick_after_commit

from . import errors
from .auth import ApiKeyAuth
from .schemas import Id, Line
from .selectors import CURSOR_PATTERN, MAX_PAGE, page_after

MAX_PER_CALL = 10_000

sequences = Router(tags=["sequences"])


class EnrolIn(Schema):
    model_config = {
        "json_schema_extra": {
            "anyOf": [
                {"required": ["contact_ids"], "properties": {"contact_ids": {"minItems": 1}}},
                {"required": ["emails"], "properties": {"emails": {"minItems": 1}}},
            ]
        },
    }

    contact_ids: list[Id] = Field(default_factory=list, max_length=MAX_PER_CALL)
    emails: list[Line(254)] = Field(
        default_factory=list,
        max_length=MAX_PER_CALL,
        description="Each item is one address, matched after the same normalisation as forms.",
    )


class EnrolOut(Schema):
    enrolled: int = Field(description="Leads enrolled now.")
    skipped: int = Field(
        description="Leads found but not enrolled: enrolled already, or once before "
        "when the sequence enrols each lead only once."
    )
    unknown_contact_ids: list[int]
    unknown_emails: list[str]


@sequences.post(
    "/{int:sequence_id}/enrollments",
    response={200: EnrolOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=ApiKeyAuth("sequences:write"),
)
def sequence_enrol(request, payload: EnrolIn, sequence_id: int = Path(..., ge=1, le=MAX_INT)):
    """Enrol leads, by id or by email, in a sequence (by its re-enrolment rule). The first
    step of each runs within seconds. A sequence that is not active keeps them waiting."""
    sequence = sequence_get(sequence_id=sequence_id)
    targets = enrollment_targets(contact_ids=payload.contact_ids, emails=payload.emails)
    enrolled = enrollments_start_bulk(
        sequence=sequence, contact_ids=targets.contact_ids, source=f"api ({request.auth.name})"
    )
    if enrolled:
        nurture_kick_after_commit()
    return {
        "enrolled": enrolled,
        "skipped": len(targets.contact_ids) - enrolled,
        "unknown_contact_ids": targets.unknown_contact_ids,
        "unknown_emails": targets.unknown_emails,
    }


class SequenceOut(Schema):
    id: int
    name: str
    is_active: bool = Field(description="false: enrolled leads wait.")
    trigger: str = Field(
        description="What enrols leads by itself (manual: only people and the API)"
    )
    reenrol: str = Field(description="Whether a lead may walk it again")
    active_count: int = Field(description="Leads walking it now")
    completed_count: int


class SequencePage(Schema):
    items: list[SequenceOut]
    next: str | None


@sequences.get(
    "/",
    response={200: SequencePage, **errors.documented(*errors.AUTH, *errors.PARAMS)},
    auth=ApiKeyAuth("sequences:read"),
)
def sequence_list(
    request,
    after: str = Query("", pattern=CURSOR_PATTERN + "|^$", description="The previous ``next``."),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
):
    """The sequences with how many leads walk each, a page at a time (one query per page)."""
    items, cursor = page_after(sequences_with_counts(), after=after, limit=limit)
    return {"items": items, "next": cursor}


MAX_UNENROL = 1000


class UnenrolIn(EnrolIn):
    contact_ids: list[Id] = Field(default_factory=list, max_length=MAX_UNENROL)
    emails: list[Line(254)] = Field(default_factory=list, max_length=MAX_UNENROL)


class UnenrolOut(Schema):
    unenrolled: int = Field(description="Active enrolments ended now.")
    not_enrolled: int = Field(description="Leads found but not walking the sequence.")
    unknown_contact_ids: list[int]
    unknown_emails: list[str]


@sequences.post(
    "/{int:sequence_id}/unenrollments",
    response={200: UnenrolOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=ApiKeyAuth("sequences:write"),
)
def sequence_unenrol(request, payload: UnenrolIn, sequence_id: int = Path(..., ge=1, le=MAX_INT)):
    """Take leads, by id or by email, out of a sequence: their active enrolments end
    (``exited``, reason "removed through the API"), their emails still queued are not sent."""
    sequence = sequence_get(sequence_id=sequence_id)
    targets = enrollment_targets(contact_ids=payload.contact_ids, emails=payload.emails)
    unenrolled = enrollments_exit_bulk(
        sequence=sequence,
        contact_ids=targets.contact_ids,
        reason=f"removed through the API ({request.auth.name})",
    )
    return {
        "unenrolled": unenrolled,
        "not_enrolled": len(targets.contact_ids) - unenrolled,
        "unknown_contact_ids": targets.unknown_contact_ids,
        "unknown_emails": targets.unknown_emails,
    }
