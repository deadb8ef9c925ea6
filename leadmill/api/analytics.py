"""Analytics endpoints: the same numbers as the screens (definitions: docs/analytics.md)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Literal

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from leadmill.analytics.credits import FIRST_TOUCH, MODEL_LABELS, TOUCH_GROUPS
from leadmill.analytics.form_report import form_report
from leadmill.analytics.landing_pages import page_report
from leadmill.analytics.quality import quality as quality_select
from leadmill.analytics.selectors import GROUPS
from leadmill.analytics.selectors import funnel as funnel_select
from leadmill.analytics.services import SpendError, SpendRow, spend_record
from leadmill.capture.models import Form

from . import errors
from .auth import ApiKeyAuth
from .schemas import Line

analytics = Router(tags=["analytics"])

MAX_DAYS = 3660
MAX_SPEND_ROWS = 10_000
SPEND_AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")
Group = Literal[GROUPS]  # the funnel's breakdowns, as analytics names them


Attribution = Literal[tuple(MODEL_LABELS)]  # tracking's attribution models


def _attribution_refused(attribution: str, group_by: str | None):
    """The 400 answer when a model other than first touch is asked for a breakdown it does
    not change (only a touch's channel, source, medium and campaign are shared)."""
    if attribution == FIRST_TOUCH or group_by in TOUCH_GROUPS:
        return None
    return Status(
        400,
        {
            "code": "attribution_needs_touch_group",
            "message": _(
                "An attribution model applies to a breakdown by channel, source, medium or "
                "campaign: add group_by=source (or one of the others), or leave attribution "
                "out."
            ),
        },
    )


# A NUL can be in no column of PostgreSQL: a filter holding one is refused (422), never a 500.
NO_NUL = r"^[^\x00]*$"


def _plain(value):
    """Money as decimal text ("50.00"), dates as ISO text: exact in every JSON reader."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@analytics.get(
    "/funnel",
    response={200: dict, **errors.documented(*errors.AUTH, 400, *errors.PARAMS)},
    auth=ApiKeyAuth("analytics:read"),
)
def funnel(
    request,
    since: dt.date,
    until: dt.date,
    group_by: Group | None = None,
    reading: Literal["cohort", "activity"] = "cohort",
    window_days: int | None = Query(None, ge=0, le=MAX_DAYS),
    channel: str = Query("", max_length=20, pattern=NO_NUL),
    source: str = Query("", max_length=200, pattern=NO_NUL),
    campaign: str = Query("", max_length=200, pattern=NO_NUL),
    attribution: Attribution = FIRST_TOUCH,
):
    """The funnel of a period (visitors, leads, MQLs, SQLs, customers, rates, median and
    p90 days between stages, spend, costs, revenue), one row per value of ``group_by`` and
    the total. Money is decimal text in the reporting currency; a rate or cost whose
    divisor is zero is ``null``. By ``cta``, each lead counts under the call to action it
    clicked last before it came in; by ``segment``, each row (``value``: the segment's id)
    counts the leads of the period in the segment now, so rows overlap, do not add up to
    the total, and carry ``visitors: null`` and ``spend: null``. ``attribution`` (by
    channel, source, medium or campaign only): the model that shares each lead's credit
    among its touches; other than ``first_touch``, counts are fractional credits."""
    today = timezone.localdate()
    if since > until:
        return Status(
            400, {"code": "bad_period", "message": _("since must be on or before until.")}
        )
    until = min(until, today)
    since = min(since, until)
    if (until - since).days > MAX_DAYS:
        return Status(
            400,
            {"code": "bad_period", "message": _("A period may span at most ten years.")},
        )
    refusal = _attribution_refused(attribution, group_by)
    if refusal:
        return refusal
    report = funnel_select(
        since=since,
        until=until,
        group_by=group_by,
        reading=reading,
        window_days=window_days,
        filters={"channel": channel, "source": source, "campaign": campaign},
        attribution=attribution,
    )
    return _plain(report)


def _period(since: dt.date, until: dt.date):
    """The period clipped to today, or the 400 answer that says what to fix."""
    if since > until:
        return None, Status(
            400, {"code": "bad_period", "message": _("since must be on or before until.")}
        )
    until = min(until, timezone.localdate())
    since = min(since, until)
    if (until - since).days > MAX_DAYS:
        return None, Status(
            400, {"code": "bad_period", "message": _("A period may span at most ten years.")}
        )
    return (since, until), None


QualityGroup = Literal["channel", "source", "medium", "campaign", "landing_page", "form", "offer"]


@analytics.get(
    "/quality",
    response={200: dict, **errors.documented(*errors.AUTH, 400, *errors.PARAMS)},
    auth=ApiKeyAuth("analytics:read"),
)
def quality(
    request,
    since: dt.date,
    until: dt.date,
    group_by: QualityGroup = "source",
    window_days: int | None = Query(None, ge=0, le=MAX_DAYS),
    channel: str = Query("", max_length=20, pattern=NO_NUL),
    source: str = Query("", max_length=200, pattern=NO_NUL),
    campaign: str = Query("", max_length=200, pattern=NO_NUL),
    attribution: Attribution = FIRST_TOUCH,
):
    """Quality by source of the leads created in the period, one row per value of
    ``group_by`` and the total: leads, MQLs, SQLs, customers and each one's share of the
    leads, average fit / engagement / predictive score (``null`` without scores), revenue,
    median whole days from creation to SQL and to customer. The same numbers as the
    "Quality by source" screen. ``attribution`` as for the funnel: other than
    ``first_touch``, leads and stages are fractional credits and the score averages are
    weighted by them."""
    period, refusal = _period(since, until)
    refusal = refusal or _attribution_refused(attribution, group_by)
    if refusal:
        return refusal
    report = quality_select(
        since=period[0],
        until=period[1],
        group_by=group_by,
        window_days=window_days,
        filters={"channel": channel, "source": source, "campaign": campaign},
        attribution=attribution,
    )
    return _plain(report)


@analytics.get(
    "/pages",
    response={200: dict, **errors.documented(*errors.AUTH, 400, *errors.PARAMS)},
    auth=ApiKeyAuth("analytics:read"),
)
def pages(
    request, since: dt.date, until: dt.date, page: str = Query("", max_length=500, pattern=NO_NUL)
):
    """Landing pages in the period: per page (its path) views, unique visitors, conversions
    (accepted form posts sent from it) and conversion rate; and ``weeks``: per week, the
    landing pages live and the leads. The same numbers as the "Landing pages" screen.

    ``unique_visitors_approximate`` (on the answer and on each row): true when the period
    spans several days, some of them counted by the daily fill; unique visitors (and so the
    conversion rate) are then an estimate within 1 % of the exact count, from merged daily
    sketches (ADR 56). A single day, or days not counted yet, give the exact count."""
    period, refusal = _period(since, until)
    if refusal:
        return refusal
    return _plain(page_report(since=period[0], until=period[1], page=page))


@analytics.get(
    "/forms/{slug}",
    response={200: dict, **errors.documented(*errors.AUTH, 400, 404, *errors.PARAMS)},
    auth=ApiKeyAuth("analytics:read"),
)
def form(
    request,
    slug: str = Path(..., max_length=100, pattern=NO_NUL),
    since: dt.date = ...,
    until: dt.date = ...,
):
    """One form in the period: views, starts, submissions, completion rate, median seconds
    to complete; per field, browsers that reached it, left the form there, and its
    validation error rate. The same numbers as the "Forms" screen."""
    found = Form.objects.filter(slug=slug).first()
    if found is None:
        return Status(404, {"code": "not_found", "message": _("No form with this slug.")})
    period, refusal = _period(since, until)
    if refusal:
        return refusal
    return _plain(form_report(form=found, since=period[0], until=period[1]))


class SpendRowIn(Schema):
    date: dt.date = Field(description="The day the money was spent (YYYY-MM-DD).")
    amount: Line(16, min_length=1) = Field(
        description="Decimal text, at most two decimals, e.g. 120.50.",
        json_schema_extra={"pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$"},
    )
    currency: Line(3, min_length=3) = Field(
        description="ISO 4217 code; must be the reporting currency.",
        json_schema_extra={"pattern": "^[A-Za-z]{3}$"},
    )
    channel: Line(20) = ""
    source: Line(200) = ""
    medium: Line(200) = ""
    campaign: Line(200) = ""


class SpendIn(Schema):
    rows: list[SpendRowIn] = Field(min_length=1, max_length=MAX_SPEND_ROWS)


class SpendOut(Schema):
    recorded: int = Field(description="Rows stored (new, or replacing the same day and source).")


@analytics.post(
    "/spend",
    response={200: SpendOut, **errors.documented(*errors.AUTH, *errors.BODY)},
    auth=ApiKeyAuth("analytics:write"),
)
def spend(request, payload: SpendIn):
    """Record ad spend: each row sets the amount of one day and channel / source / medium /
    campaign (sending the same rows again changes nothing). All or nothing: a row in
    another currency than the reporting one is refused (400 ``currency_refused``) and no
    row is stored."""
    rows = []
    for row in payload.rows:
        if not SPEND_AMOUNT.fullmatch(row.amount):
            return Status(
                400,
                {
                    "code": "bad_amount",
                    "message": _("An amount is decimal text with at most two decimals."),
                },
            )
        rows.append(
            SpendRow(
                day=row.date,
                amount=Decimal(row.amount),
                currency=row.currency.upper(),
                channel=row.channel,
                source=row.source,
                medium=row.medium,
                campaign=row.campaign,
            )
        )
    try:
        recorded = spend_record(rows=rows)
    except SpendError as error:
        return Status(400, {"code": "currency_refused", "message": error.message})
    return {"recorded": recorded}
