"""The API object. Endpoints call services and selectors only; errors carry stable codes."""

from __future__ import annotations

from ninja import NinjaAPI, Router, Status

from leadmill.contacts.models import Contact
from leadmill.contacts.services import Touch, contact_upsert
from leadmill.core.errors import DomainError

from . import nurture as nurture_router
from .auth import ApiKeyAuth
from .schemas import Error, LeadIn, LeadOut, LeadUpsertOut

api = NinjaAPI(title="Leadmill API", version="1", urls_namespace="api")


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    return api.create_response(request, {"code": exc.code, "message": exc.message, "errors": exc.field_errors}, status=400)


@api.get("/health", tags=["meta"], auth=None)
def health(request):
    return {"status": "ok"}


leads = Router(tags=["leads"])


@leads.post("/", response={200: LeadUpsertOut, 201: LeadUpsertOut, 400: Error}, auth=ApiKeyAuth("leads:write"))
def lead_upsert(request, payload: LeadIn):
    """Create a lead, or update the one with the same email (then phone)."""
    profile = payload.dict(include={"first_name", "last_name", "company_name", "role", "company_size", "segment", "country"})
    touch = Touch(source=payload.utm_source, medium=payload.utm_medium, campaign=payload.utm_campaign)
    result = contact_upsert(email=payload.email, phone=payload.phone, profile=profile, custom=payload.custom,
                            touch=touch, cause="api")
    body = {"lead": result.contact, "created": result.created, "possible_duplicate_of": result.possible_duplicate_of}
    return Status(201 if result.created else 200, body)


@leads.get("/{int:lead_id}", response={200: LeadOut, 404: Error}, auth=ApiKeyAuth("leads:read"))
def lead_get(request, lead_id: int):
    contact = Contact.objects.filter(pk=lead_id).first()
    if contact is None:
        return Status(404, {"code": "not_found", "message": "No lead with this id."})
    return contact


@leads.get("/", response=list[LeadOut], auth=ApiKeyAuth("leads:read"))
def lead_list(request, email: str = "", limit: int = 50, after_id: int = 0):
    """Leads, oldest first, paginated by id (``after_id``); filter by exact email."""
    query = Contact.objects.filter(pk__gt=after_id).order_by("pk")
    if email:
        from leadmill.contacts.identity import email_normalise

        try:
            query = query.filter(email=email_normalise(email))
        except DomainError:
            return []
    return list(query[: max(1, min(limit, 500))])


api.add_router("/v1/leads", leads)
api.add_router("/v1/sequences", nurture_router.sequences)


