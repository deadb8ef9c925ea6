"""Segments: list, one with its size, its members (the leads' cursor), and putting leads on
or taking them off a static list."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema
from pydantic import Field

from leadmill.core.errors import Conflict
from leadmill.core.text import MAX_INT
from leadmill.segments.models import Segment
from leadmill.segments.services import segment_members_add, segment_members_remove

from . import errors
from .auth import ApiKeyAuth
from .schemas import Id, LeadOut
from .selectors import (
    CURSOR_PATTERN,
    MAX_PAGE,
    leads_existing,
    page_after,
    segment_get,
    segment_members,
    segments_all,
)

segments = Router(tags=["segments"])
READ = ApiKeyAuth("segments:read")
WRITE = ApiKeyAuth("segments:write")
SEGMENT_ID = Path(..., ge=1, le=MAX_INT)
AFTER = Query("", pattern=CURSOR_PATTERN + "|^$", description="The previous page's ``next``.")
LIMIT = Query(50, ge=1, le=MAX_PAGE)
MAX_PER_CALL = 10_000


class SegmentOut(Schema):
    id: int
    name: str
    kind: str = Field(description="dynamic (follows its filters) or static (a list)")
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime


class SegmentDetailOut(SegmentOut):
    size: int = Field(description="How many leads are in it now.")


class SegmentPage(Schema):
    items: list[SegmentOut]
    next: str | None


class MemberPage(Schema):
    items: list[LeadOut]
    next: str | None


@segments.get(
    "/",
    response={200: SegmentPage, **errors.documented(*errors.AUTH, *errors.PARAMS)},
    auth=READ,
)
def segment_list(request, after: str = AFTER, limit: int = LIMIT):
    """Segments and static lists, a page at a time."""
    items, cursor = page_after(segments_all(), after=after, limit=limit)
    return {"items": items, "next": cursor}


@segments.get(
    "/{int:segment_id}",
    response={200: SegmentDetailOut, **errors.documented(*errors.AUTH, 404, 409, *errors.PARAMS)},
    auth=READ,
)
def segment_detail(request, segment_id: int = SEGMENT_ID):
    """One segment with its size now. 409 ``segment_invalid`` when its filters cannot be
    evaluated (they name a deleted segment …): fix them in the admin."""
    segment = segment_get(segment_id)
    segment.size = segment_members(segment=segment).count()
    return segment


@segments.get(
    "/{int:segment_id}/members",
    response={200: MemberPage, **errors.documented(*errors.AUTH, 404, 409, *errors.PARAMS)},
    auth=READ,
)
def segment_member_list(
    request, segment_id: int = SEGMENT_ID, after: str = AFTER, limit: int = LIMIT
):
    """The leads in the segment now, in id order behind the leads' opaque cursor: one query
    per page whatever its size."""
    members = segment_members(segment=segment_get(segment_id))
    items, cursor = page_after(members, after=after, limit=limit)
    return {"items": items, "next": cursor}


class MembersIn(Schema):
    contact_ids: list[Id] = Field(min_length=1, max_length=MAX_PER_CALL)


class MembersOut(Schema):
    changed: int = Field(description="Leads put on (or taken off) the list now.")
    unchanged: int = Field(description="Leads that were on it already (or not on it).")
    unknown_contact_ids: list[int]


def _static(segment_id: int) -> Segment:
    segment = segment_get(segment_id)
    if segment.kind != Segment.Kind.STATIC:
        raise Conflict(
            _(
                "Only a static list has members to add or remove; a dynamic segment follows its filters."
            ),
            code="segment_not_static",
        )
    return segment


@segments.post(
    "/{int:segment_id}/members",
    response={200: MembersOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=WRITE,
)
def segment_member_add(request, payload: MembersIn, segment_id: int = SEGMENT_ID):
    """Put leads on a static list (``StaticListChanged``: sequences watching it enrol them).
    409 ``segment_not_static`` for a dynamic segment."""
    segment = _static(segment_id)
    wanted = set(payload.contact_ids)
    known = leads_existing(wanted)
    added = segment_members_add(segment=segment, contact_ids=known)
    return {
        "changed": added,
        "unchanged": len(known) - added,
        "unknown_contact_ids": sorted(wanted - known),
    }


@segments.post(
    "/{int:segment_id}/members/remove",
    response={200: MembersOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=WRITE,
)
def segment_member_remove(request, payload: MembersIn, segment_id: int = SEGMENT_ID):
    """Take leads off a static list. 409 ``segment_not_static`` for a dynamic segment."""
    segment = _static(segment_id)
    wanted = set(payload.contact_ids)
    known = leads_existing(wanted)
    removed = segment_members_remove(segment=segment, contact_ids=known)
    return {
        "changed": removed,
        "unchanged": len(known) - removed,
        "unknown_contact_ids": sorted(wanted - known),
    }
