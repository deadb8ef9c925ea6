"""Owners endpoint: the sales reps leads can be routed to (issue 16)."""

from __future__ import annotations

from ninja import Query, Router, Schema
from pydantic import Field

from . import errors
from .auth import ApiKeyAuth
from .selectors import CURSOR_PATTERN, MAX_PAGE, owners_all, page_after

owners = Router(tags=["owners"])


class OwnerOut(Schema):
    user_id: int = Field(description="Send as a lead's owner_id (and filter leads by it).")
    username: str
    name: str
    email: str
    available: bool = Field(description="false: away; the round robin skips them.")


class OwnerPage(Schema):
    items: list[OwnerOut]
    next: str | None


AFTER = Query("", pattern=CURSOR_PATTERN + "|^$", description="The ``next`` of the previous page.")


@owners.get(
    "/",
    response={200: OwnerPage, **errors.documented(*errors.AUTH, *errors.PARAMS)},
    auth=ApiKeyAuth("owners:read"),
)
def owner_list(request, after: str = AFTER, limit: int = Query(50, ge=1, le=MAX_PAGE)):
    """The sales reps, a page at a time (the same opaque cursor as leads)."""
    reps, cursor = page_after(owners_all(), after=after, limit=limit)
    return {
        "items": [
            {
                "user_id": rep.user_id,
                "username": rep.user.get_username(),
                "name": rep.user.get_full_name(),
                "email": rep.user.email,
                "available": rep.available,
            }
            for rep in reps
        ],
        "next": cursor,
    }
