"""Analytics endpoints: the same numbers as the screens (definitions: docs/analytics.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from leadmill.analytics.selectors import funnel as funnel_select

from . import errors
from .auth import ApiKeyAuth

analytics = Router(tags=["analytics"])

MAX_DAYS = 3660
Group = Literal[
    "channel", "source", "medium", "campaign", "landing_page", "form", "offer", "country"
]


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
    channel: str = Query("", max_length=20),
    source: str = Query("", max_length=200),
    campaign: str = Query("", max_length=200),
):
    """The funnel of a period (visitors, leads, MQLs, SQLs, customers, rates, median and
    p90 days between stages, spend, costs, revenue), one row per value of ``group_by`` and
    the total. Money is decimal text in the reporting currency; a rate or cost whose
    divisor is zero is ``null``."""
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
    report = funnel_select(
        since=since,
        until=until,
        group_by=group_by,
        reading=reading,
        window_days=window_days,
        filters={"channel": channel, "source": source, "campaign": campaign},
    )
    return _plain(report)
