"""Nurture endpoints: enrol leads in a sequence."""

from __future__ import annotations

from ninja import Router, Schema, Status
from pydantic import Field

from leadmill.contacts.models import Contact
from leadmill.nurture.engine import enrollments_start_bulk
from leadmill.nurture.models import Sequence
from leadmill.nurture.selectors import contact_ids_by_email
from leadmill.nurture.tasks import nurture_kick_after_commit

from .auth import ApiKeyAuth
from .schemas import Error

MAX_PER_CALL = 10_000

sequences = Router(tags=["sequences"])


class EnrolIn(Schema):
    contact_ids: list[int] = Field(default_factory=list, max_length=MAX_PER_CALL)
    emails: list[str] = Field(default_factory=list, max_length=MAX_PER_CALL)


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
    response={200: EnrolOut, 400: Error, 404: Error},
    auth=ApiKeyAuth("nurture:write"),
)
def sequence_enrol(request, sequence_id: int, payload: EnrolIn):
    """Enrol leads, by id or by email, in a sequence (by its re-enrolment rule). The first
    step of each runs within seconds. A sequence that is not active keeps them waiting."""
    sequence = Sequence.objects.filter(pk=sequence_id).first()
    if sequence is None:
        return Status(404, {"code": "not_found", "message": "No sequence with this id."})
    if not payload.contact_ids and not payload.emails:
        return Status(400, {"code": "nothing_to_enrol", "message": "Give contact_ids or emails."})
    wanted = set(payload.contact_ids)
    known = (
        set(Contact.objects.filter(pk__in=wanted).values_list("pk", flat=True)) if wanted else set()
    )
    found, unknown_emails = (
        contact_ids_by_email("\n".join(payload.emails)) if payload.emails else ([], [])
    )
    contact_ids = known | set(found)
    enrolled = enrollments_start_bulk(
        sequence=sequence, contact_ids=contact_ids, source=f"api ({request.auth.name})"[:100]
    )
    if enrolled:
        nurture_kick_after_commit()
    return {
        "enrolled": enrolled,
        "skipped": len(contact_ids) - enrolled,
        "unknown_contact_ids": sorted(wanted - known),
        "unknown_emails": unknown_emails,
    }
