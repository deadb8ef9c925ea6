"""The API object. Endpoints call services and selectors only; errors carry stable codes
in one shape (:mod:`.errors`), and each operation's schema lists the errors it answers."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import NinjaAPI, Path, Query, Router, Status

from leadmill.contacts.identity import email_normalise
from leadmill.contacts.models import Contact
from leadmill.contacts.services import Touch, contact_upsert
from leadmill.core.errors import DomainError
from leadmill.core.text import MAX_INT

from . import errors
from . import nurture as nurture_router
from .auth import ApiKeyAuth
from .schemas import LeadIn, LeadOut, LeadUpsertOut, Line

api = NinjaAPI(title="Leadmill API", version="1", urls_namespace="api", parser=errors.JsonParser())
errors.install(api)


@api.get("/health", tags=["meta"], auth=None)
def health(request):
    return {"status": "ok"}


leads = Router(tags=["leads"])


@leads.post(
    "/",
    response={200: LeadUpsertOut, 201: LeadUpsertOut, **errors.documented(*errors.AUTH, *errors.BODY)},
    auth=ApiKeyAuth("leads:write"),
)
def lead_upsert(request, payload: LeadIn):
    """Create a lead, or update the one with the same email (then phone). 400 with
    ``email_invalid``, ``phone_invalid`` or ``identity_missing`` when the lead cannot be known."""
    profile = payload.dict(include={"first_name", "last_name", "company_name", "role", "company_size", "segment", "country"})
    touch = Touch(source=payload.utm_source, medium=payload.utm_medium, campaign=payload.utm_campaign)
    result = contact_upsert(email=payload.email, phone=payload.phone, profile=profile, custom=payload.custom,
                            touch=touch, cause="api")
    body = {"lead": result.contact, "created": result.created, "possible_duplicate_of": result.possible_duplicate_of}
    return Status(201 if result.created else 200, body)


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


@leads.get(
    "/",
    response={200: list[LeadOut], **errors.documented(*errors.AUTH, *errors.PARAMS)},
    auth=ApiKeyAuth("leads:read"),
)
def lead_list(
    request,
    email: Line(254) = "",
    limit: int = Query(50, ge=1, le=500),
    after_id: int = Query(0, ge=0, le=MAX_INT),
):
    """Leads, oldest first, paginated by id (``after_id``); filter by exact email."""
    query = Contact.objects.filter(pk__gt=after_id).order_by("pk")
    if email:
        try:
            query = query.filter(email=email_normalise(email))
        except DomainError:
            return []
    return list(query[:limit])


api.add_router("/v1/leads", leads)
api.add_router("/v1/sequences", nurture_router.sequences)
