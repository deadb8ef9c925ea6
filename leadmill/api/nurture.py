"""Nurture endpoints: enrol leads in a sequence."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import Path, Router, Schema, Status
from pydantic import Field

from leadmill.contacts.models import Contact
from leadmill.contacts.selectors import contact_ids_by_emails
from leadmill.core.text import MAX_INT
from leadmill.nurture.models import Sequence
from leadmill.nurture.services import enrollments_start_bulk
from leadmill.nurture.tasks import nurture_kick_after_commit

from . import errors
from .auth import ApiKeyAuth
from .schemas import Id, Line

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
    sequence = Sequence.objects.filter(pk=sequence_id).first()
    if sequence is None:
        return Status(404, {"code": "not_found", "message": _("No sequence with this id.")})
    if not payload.contact_ids and not payload.emails:
        return Status(
            400, {"code": "nothing_to_enrol", "message": _("Give contact_ids or emails.")}
        )
    wanted = set(payload.contact_ids)
    known = (
        set(Contact.objects.filter(pk__in=wanted).values_list("pk", flat=True)) if wanted else set()
    )
    found, unknown_emails = contact_ids_by_emails(payload.emails) if payload.emails else ([], [])
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
