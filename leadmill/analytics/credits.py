"""The funnel and quality by source under an attribution model other than first touch
(docs/analytics.md, "Which touch gets the credit"; ADR 60).

First touch, the default, is read from the daily counts (each lead has one first touch, so
the counts are a partition). Under another model a lead's credit is shared among the
touches of its journey up to its creation, by tracking's own model functions
(:data:`leadmill.tracking.attribution.MODELS`, the one definition), and each of its numbers
(the lead, its MQL, SQL and customer, its revenue, its days between stages) counts in each
touch's group with that touch's share: fractional credits. These are computed from the raw
tables when read: the period's leads (the statement the fill uses) and their touches.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from leadmill.contacts.models import Contact
from leadmill.tracking.attribution import MODELS, Touch, touches_until
from leadmill.tracking.selectors import contacts_touches

from .counts import day_bounds, lead_rows
from .models import DIMENSIONS, Metric

FIRST_TOUCH = "first_touch"
# The groups a touch has: a model shares a lead among these only.
TOUCH_GROUPS = ("channel", "source", "medium", "campaign")
MODEL_LABELS = {
    "first_touch": _("First touch"),
    "last_touch": _("Last touch"),
    "linear": _("Linear"),
    "u_shaped": _("U-shaped"),
    "time_decay": _("Time decay"),
}
MODEL_DEFINITIONS = {
    "first_touch": _("All the credit of a lead goes to its first touch."),
    "last_touch": _("All the credit of a lead goes to its last touch before it came in."),
    "linear": _("A lead's credit is shared equally by every touch before it came in."),
    "u_shaped": _(
        "40 % of a lead's credit to its first touch, 40 % to its last, 20 % shared by the "
        "touches in between (one touch: 100 %, two: 50 % each)."
    ),
    "time_decay": _(
        "A touch's share halves for every 7 days before the lead came in; the shares add up "
        "to one lead."
    ),
}
assert set(MODEL_LABELS) == set(MODELS)  # noqa: S101 -- tracking's models, every one named

# Positions of the columns in a touch's key and in a lead row's dimensions.
_TOUCH_POSITIONS = {name: index for index, name in enumerate(TOUCH_GROUPS)}
_LEAD_POSITIONS = {name: index for index, name in enumerate(DIMENSIONS)}

TouchKey = tuple[str, str, str, str]


def leads_shares(
    *, contact_ids, models: tuple[str, ...], created_at: dict | None = None
) -> dict[str, dict[int, dict[TouchKey, float]]]:
    """Per model of ``models``, per lead, the share of its credit each touch key (channel,
    source, medium, campaign) gets: its touches up to its creation (tracking's touches:
    page views and email clicks that carry a source, no bots); a lead with no tracked touch
    has its stored first touch (from its form post) as its only one. The shares of a lead
    add up to 1; a key of the journey the model gives nothing is there with 0. The journeys
    are read once for every model. ``created_at``: a dict to receive each lead's creation."""
    ids = sorted(set(contact_ids))
    touches = contacts_touches(contact_ids=ids, until_created=True)
    found: dict[str, dict[int, dict[TouchKey, float]]] = {model: {} for model in models}
    assigns = [(found[model], MODELS[model]) for model in models]
    # One read of every lead (the ids as one parameter, ADR 74).
    for pk, created, channel, source, medium, campaign, first_at in Contact.objects.filter(
        pk__any=ids
    ).values_list(
        "pk",
        "created_at",
        "first_channel",
        "first_source",
        "first_medium",
        "first_campaign",
        "first_touch_at",
    ):
        if created_at is not None:
            created_at[pk] = created
        journey = touches_until(touches.get(pk, ()), created)
        if not journey:
            journey = [
                Touch(
                    occurred_at=min(first_at or created, created),
                    channel=channel,
                    source=source,
                    medium=medium,
                    campaign=campaign,
                )
            ]
        # A touch's key once per lead, not once per model (the credits of a model are one
        # per touch of the journey, in its order).
        keys = [
            (touch.channel, touch.source[:200], touch.medium[:200], touch.campaign[:200])
            for touch in journey
        ]
        for credits, assign in assigns:
            shares: dict[TouchKey, float] = {}
            for key, credit in zip(keys, assign(journey, created), strict=True):
                shares[key] = shares.get(key, 0.0) + credit.weight
            credits[pk] = shares
    return found


def lead_credits(*, contact_ids, model: str) -> dict[int, dict[TouchKey, float]]:
    """:func:`leads_shares` under one model (the raw reading, ADR 60)."""
    return leads_shares(contact_ids=contact_ids, models=(model,))[model]


def credited_rows(
    *, since: dt.date, until: dt.date, group_by: str, model: str, filters: dict
) -> tuple[list[tuple[str, object, int, float, Decimal]], dict[int, dict[object, float]]]:
    """The leads' rows of the period from ``since`` to ``until`` (both included) credited
    under ``model`` to the values of ``group_by`` (one of :data:`TOUCH_GROUPS`):
    ``(metric, group value, lag, credit, amount × credit)``; and the credit of each lead
    created in the period per group value (for the averages of their scores).

    ``filters`` on a touch's column (channel, source, medium, campaign) keep the credit of
    the touches that match; on a lead's (landing page, form, country) keep its leads.
    """
    start, end = day_bounds(since)[0], day_bounds(until)[1]
    touch_filters = {
        _TOUCH_POSITIONS[name]: value for name, value in filters.items() if name in TOUCH_GROUPS
    }
    lead_filters = {
        _LEAD_POSITIONS["form_id" if name == "form" else name]: value
        for name, value in filters.items()
        if name not in TOUCH_GROUPS
    }
    rows = [
        row
        for row in lead_rows(start, end)
        if all(row[2][position] == value for position, value in lead_filters.items())
    ]
    credits = lead_credits(contact_ids={row[1] for row in rows}, model=model)
    column = _TOUCH_POSITIONS[group_by]
    shares: dict[int, dict[object, float]] = {}
    for contact_id, touches in credits.items():
        by_group: dict[object, float] = defaultdict(float)
        for key, weight in touches.items():
            if all(key[position] == value for position, value in touch_filters.items()):
                by_group[key[column]] += weight
        shares[contact_id] = dict(by_group)
    credited = []
    for metric, contact_id, _dims, lag, amount in rows:
        # .get: a lead erased between the two reads has no journey and counts nowhere.
        for group, weight in shares.get(contact_id, {}).items():
            credited.append((metric, group, lag, weight, amount * Decimal(weight)))
    created = {row[1] for row in rows if row[0] == Metric.LEADS}
    return credited, {contact_id: shares.get(contact_id, {}) for contact_id in created}


COUNTED = ("leads", "mqls", "sqls", "customers")


def as_credits(row: dict) -> dict:
    """A report row whose counts are credits: every one a float, none left a whole 0 (so a
    screen shows "0.0" beside "0.8" and the API one type per field)."""
    return {**row, **{key: float(row[key]) for key in COUNTED if row.get(key) is not None}}
