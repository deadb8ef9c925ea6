"""Activities: the calls, emails, meetings, notes and tasks of sales on a lead."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from leadmill.core.errors import NotFound
from leadmill.core.text import MAX_INT
from leadmill.sales.models import ActivityKind
from leadmill.sales.services import activity_log, activity_task_done

from . import errors
from .auth import ApiKeyAuth
from .idempotency import request_concerns
from .schemas import Id, Line, Text
from .selectors import CURSOR_PATTERN, MAX_PAGE, activities_filtered, lead_get, page_after

activities = Router(tags=["activities"])
READ = ApiKeyAuth("activities:read")
WRITE = ApiKeyAuth("activities:write")
Kind = Literal[tuple(ActivityKind.values)]


class ActivityOut(Schema):
    id: int
    lead_id: int
    kind: str = Field(description="call, email, meeting, note or task")
    subject: str
    body: str
    occurred_at: dt.datetime
    due_at: dt.datetime | None = Field(description="A task's due date")
    done: bool = Field(description="A task ticked done")
    user_id: int | None = Field(description="The sales rep who did it, if given")


def _out(activity) -> dict:
    return {
        "id": activity.pk,
        "lead_id": activity.contact_id,
        "kind": activity.kind,
        "subject": activity.subject,
        "body": activity.body,
        "occurred_at": activity.occurred_at,
        "due_at": activity.due_at,
        "done": activity.done,
        "user_id": activity.user_id,
    }


class ActivityPage(Schema):
    items: list[ActivityOut]
    next: str | None


@activities.get(
    "/",
    response={200: ActivityPage, **errors.documented(*errors.AUTH, *errors.PARAMS)},
    auth=READ,
)
def activity_list(
    request,
    lead_id: int | None = Query(None, ge=1, le=MAX_INT),
    kind: Kind | None = None,
    after: str = Query("", pattern=CURSOR_PATTERN + "|^$", description="The previous ``next``."),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
):
    """Activities in the order they were logged, a page at a time (one query per page)."""
    rows, cursor = page_after(
        activities_filtered(lead_id=lead_id, kind=kind or ""), after=after, limit=limit
    )
    return {"items": [_out(row) for row in rows], "next": cursor}


class ActivityIn(Schema):
    model_config = {
        "json_schema_extra": {
            "anyOf": [
                {"properties": {"kind": {"enum": [k for k in ActivityKind.values if k != "task"]}}},
                {
                    "required": ["due_at"],
                    "properties": {"kind": {"const": "task"}, "due_at": {"type": "string"}},
                },
            ]
        },
    }

    lead_id: Id
    kind: Kind
    subject: Line(200) = ""
    body: Text(10_000) = ""
    occurred_at: dt.datetime | None = Field(None, description="When; default now.")
    due_at: dt.datetime | None = Field(None, description="Required for a task.")
    user_id: Id | None = Field(None, description="The sales rep who did it (GET /api/v1/owners/).")


@activities.post(
    "/",
    response={201: ActivityOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=WRITE,
)
def activity_create(request, payload: ActivityIn):
    """Log a call, email, meeting or note on a lead (the first stops its speed-to-lead
    clock), or a task with its due date. 404 for an unknown lead or sales rep; 400
    ``task_due`` for a task without ``due_at``."""
    contact = lead_get(payload.lead_id)
    user = None
    if payload.user_id is not None:
        user = get_user_model().objects.filter(pk=payload.user_id, sales_rep__isnull=False).first()
        if user is None:
            raise NotFound(
                _("No sales rep with this user id; see GET /api/v1/owners/."),
                code="owner_unknown",
                field_errors={"user_id": [_("No sales rep with this user id.")]},
            )
    request_concerns(request, contact.pk)
    activity = activity_log(
        contact=contact,
        user=user,
        kind=payload.kind,
        subject=payload.subject,
        body=payload.body,
        occurred_at=payload.occurred_at,
        due_at=payload.due_at,
    )
    return Status(201, _out(activity))


class ActivityPatch(Schema):
    done: Annotated[bool, Field(strict=True)] = Field(description="Tick a task done, or open it.")


@activities.patch(
    "/{int:activity_id}",
    response={200: ActivityOut, **errors.documented(*errors.AUTH, *errors.BODY, 404)},
    auth=WRITE,
)
def activity_patch(request, payload: ActivityPatch, activity_id: int = Path(..., ge=1, le=MAX_INT)):
    """Tick a task done (or open again)."""
    activity = activities_filtered().filter(pk=activity_id).first()
    if activity is None:
        raise NotFound(_("No activity with this id."))
    request_concerns(request, activity.contact_id)
    return _out(activity_task_done(activity=activity, done=payload.done))
