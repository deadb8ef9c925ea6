"""Submissions: every lead handed in by any channel, kept verbatim (read only)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema
from pydantic import Field

from leadmill.capture.models import Channel, Submission
from leadmill.core.errors import NotFound
from leadmill.core.text import MAX_INT

from . import errors
from .auth import ApiKeyAuth
from .selectors import CURSOR_PATTERN, MAX_PAGE, page_after, submissions_filtered

submissions = Router(tags=["submissions"])
READ = ApiKeyAuth("submissions:read")


class SubmissionOut(Schema):
    id: int
    channel: str = Field(description="web_form, embed, api, import, meta_lead_ads …")
    status: str = Field(description="received, accepted, rejected, spam, error")
    external_id: str
    author: str = Field(description="Who handed it in for the person (api_key:12); empty: them")
    form_id: int | None
    lead_id: int | None = Field(description="The lead it made or updated (null until processed)")
    data: dict[str, Any] = Field(description="What was sent, verbatim")
    errors: dict[str, Any]
    page_url: str
    referrer: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    source_channel: str
    source: str
    medium: str
    campaign: str
    created_at: dt.datetime


def _out(row: Submission) -> dict:
    return {
        **{name: getattr(row, name) for name in SubmissionOut.model_fields if hasattr(row, name)},
        "id": row.pk,
        "lead_id": row.contact_id,
    }


class SubmissionPage(Schema):
    items: list[SubmissionOut]
    next: str | None


@submissions.get(
    "/",
    response={200: SubmissionPage, **errors.documented(*errors.AUTH, *errors.PARAMS)},
    auth=READ,
)
def submission_list(
    request,
    lead_id: int | None = Query(None, ge=1, le=MAX_INT),
    channel: Literal[tuple(Channel.values)] | None = None,
    status: Literal[tuple(Submission.Status.values)] | None = None,
    created_since: dt.datetime | None = None,
    after: str = Query("", pattern=CURSOR_PATTERN + "|^$", description="The previous ``next``."),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
):
    """Submissions in the order they came, a page at a time (the leads' opaque cursor)."""
    rows, cursor = page_after(
        submissions_filtered(
            lead_id=lead_id, channel=channel or "", status=status or "", created_since=created_since
        ),
        after=after,
        limit=limit,
    )
    return {"items": [_out(row) for row in rows], "next": cursor}


@submissions.get(
    "/{int:submission_id}",
    response={200: SubmissionOut, **errors.documented(*errors.AUTH, 404, *errors.PARAMS)},
    auth=READ,
)
def submission_detail(request, submission_id: int = Path(..., ge=1, le=MAX_INT)):
    row = submissions_filtered().filter(pk=submission_id).first()
    if row is None:
        raise NotFound(_("No submission with this id."))
    return _out(row)
