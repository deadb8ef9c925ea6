"""The credits of the attribution models other than first touch, stored by the fill
(docs/analytics.md, "Which touch gets the credit"; ADR 65).

Each lead's shares per model and touch key (:class:`.models.LeadShare`) are computed once,
by the raw reading's own function (:func:`.credits.leads_shares`, tracking's models), when
the fill first counts a day the lead has rows on; then each day's rows under each model
(:class:`.models.CreditCount`) are the day's leads' rows (:func:`.counts.lead_rows`, the
statement of the daily counts, per lead) times their shares, summed per touch key, lead
dimensions and lag. A report reads the stored days and adds the days not filled yet
computed from the raw tables by the same function (:mod:`.tail` keeps them a minute).

A late touch (an event up to a lead's creation written after the fill's mark), an
identification that attached earlier events (:class:`.models.JourneyChange`), or any other
change that makes the fill count a lead's days again forgets the lead's shares first, so
they are computed again from the journey as it is then.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from .counts import day_bounds, lead_rows, rows_insert
from .credits import TouchKey, leads_shares
from .models import SHARED_MODELS, CreditCount, LeadRow, LeadShare

# model, metric, channel, source, medium, campaign, lag
CreditKey = tuple[str, str, str, str, str, str, int]
Shares = dict[str, dict[int, dict[TouchKey, float]]]


class DayCredits:
    """The credit rows of one day, ``(key) -> [credit, amount × credit]``, and the shares
    of the leads computed for it that are not stored yet."""

    def __init__(self) -> None:
        self.rows: dict[CreditKey, list[float]] = defaultdict(lambda: [0.0, 0.0])
        self.new_shares: Shares = {model: {} for model in SHARED_MODELS}
        self.created_at: dict[int, dt.datetime] = {}
        # The day's leads' rows (:func:`.counts.lead_rows`), stored as :class:`LeadRow`.
        self.lead_rows: list = []

    def add_rows(self, rows, shares: Shares) -> None:
        """``rows``: the leads' rows of :func:`.counts.lead_rows`; ``shares``: per model,
        per lead, per touch key. Each credit row's sums are added in the order of the
        rows, as the raw reading adds them (the same floats)."""
        credit_rows = self.rows
        by_model = list(shares.items())
        none: dict = {}
        for metric, contact_id, _dims, lag, amount in rows:
            money = float(amount)
            for model, by_lead in by_model:
                # .get: a lead erased between the two reads has no journey and counts nowhere.
                for (channel, source, medium, campaign), weight in by_lead.get(
                    contact_id, none
                ).items():
                    row = credit_rows[(model, metric, channel, source, medium, campaign, lag)]
                    row[0] += weight
                    row[1] += money * weight


def stored_shares(contact_ids) -> Shares:
    """The stored shares of these leads (those the fill has computed), per model: one read
    of every lead (their ids as one parameter, ADR 74)."""
    found: Shares = {model: {} for model in SHARED_MODELS}
    by_model = [found[model] for model in SHARED_MODELS]
    for contact_id, channel, source, medium, campaign, *columns in LeadShare.objects.filter(
        contact_id__any=sorted(set(contact_ids))
    ).values_list("contact_id", "channel", "source", "medium", "campaign", *SHARED_MODELS):
        key = (channel, source, medium, campaign)
        for by_lead, share in zip(by_model, columns, strict=True):
            by_lead.setdefault(contact_id, {})[key] = share
    return found


def day_credits(day: dt.date, *, stored: bool, recompute: set[int] = frozenset()) -> DayCredits:
    """The credit rows of ``day`` under every stored model. ``stored``: the fill's reading,
    each lead's stored shares when it has them, its journey's (computed, and kept in
    :attr:`DayCredits.new_shares` for the fill to store, replacing the stored ones) when
    not or when it is in ``recompute`` (its journey changed); otherwise every share from
    the journeys (the raw tail of a report, and the direct count)."""
    credits = DayCredits()
    rows = list(lead_rows(*day_bounds(day)))
    ids = {row[1] for row in rows}
    if stored:
        credits.lead_rows = rows
        shares = stored_shares(ids - recompute)
        missing = ids - set().union(*(set(by_lead) for by_lead in shares.values()))
        credits.new_shares = leads_shares(
            contact_ids=missing, models=SHARED_MODELS, created_at=credits.created_at
        )
        for model, by_lead in credits.new_shares.items():
            shares[model].update(by_lead)
    else:
        shares = leads_shares(contact_ids=ids, models=SHARED_MODELS)
    credits.add_rows(rows, shares)
    return credits


def day_credits_write(day: dt.date, credits: DayCredits) -> None:
    """Store the shares computed for ``day`` and replace its credit rows and its leads' rows
    (inside the fill's transaction of that day)."""
    _shares_insert(credits.new_shares, credits.created_at)
    LeadRow.objects.filter(day=day).delete()
    stored_day = connection.ops.adapt_datefield_value(day)
    # The adapter looked up once, not through the connection's proxy for each row (ADR 74).
    stored_amount = connection.ops.adapt_decimalfield_value
    rows_insert(
        LeadRow,
        ("day", "contact_id", "metric", "lag_days", "amount"),
        (
            (stored_day, contact_id, metric, lag, stored_amount(amount))
            for metric, contact_id, _dims, lag, amount in credits.lead_rows
        ),
    )
    CreditCount.objects.filter(day=day).delete()
    rows_insert(
        CreditCount,
        ("day", "model", "metric", "channel", "source", "medium", "campaign", "lag_days")
        + ("credit", "amount"),
        ((stored_day, *key, credit, amount) for key, (credit, amount) in credits.rows.items()),
    )


def _shares_insert(shares: Shares, created_at: dict[int, dt.datetime]) -> None:
    """One row per lead and touch key, a column per model (every model lists the same
    keys: those of the lead's journey). The leads' rows stored before are deleted first,
    by one statement (their ids as one parameter, ADR 74)."""
    first, *others = SHARED_MODELS
    ids = sorted(shares[first])
    if not ids:
        return
    LeadShare.objects.filter(contact_id__any=ids).delete()
    stored_moment = connection.ops.adapt_datetimefield_value
    by_other = [shares[model] for model in others]
    rows_insert(
        LeadShare,
        ("contact_id", "created_at", "channel", "source", "medium", "campaign", *SHARED_MODELS),
        (
            (
                contact_id,
                stored_moment(created_at[contact_id]),
                *key,
                share,
                *(by_lead[contact_id][key] for by_lead in by_other),
            )
            for contact_id in ids
            for key, share in shares[first][contact_id].items()
        ),
    )


# Positions in a credit key of the columns a report groups or filters by.
KEY_POSITIONS = {
    name: index + 2 for index, name in enumerate(("channel", "source", "medium", "campaign"))
}


def credited_from_rows(
    rows: dict[CreditKey, list[float]], *, model: str, group_by: str, conditions: dict
) -> list[tuple[str, object, int, float, Decimal]]:
    """Rows of a day's credits (``day_credits(...).rows``) of ``model`` that meet
    ``conditions`` (touch columns), as ``(metric, group value, lag, credit, amount)``."""
    column = KEY_POSITIONS[group_by]
    found = []
    for key, (credit, amount) in rows.items():
        if key[0] != model or any(
            key[KEY_POSITIONS[name]] != value for name, value in conditions.items()
        ):
            continue
        found.append((key[1], key[column], key[-1], credit, Decimal(amount)))
    return found


def stored_credited_rows(
    *, since: dt.date, until: dt.date, group_by: str, model: str, conditions: dict
) -> list[tuple[str, object, int, float, Decimal]]:
    """The stored credits of the days from ``since`` to ``until`` (both filled), summed per
    metric, value of ``group_by`` and lag: ``(metric, group value, lag, credit, amount)``."""
    query = (
        CreditCount.objects.filter(model=model, day__gte=since, day__lte=until, **conditions)
        .values("metric", group_by, "lag_days")
        .annotate(credits=Sum("credit"), money=Sum("amount"))
    )
    return [
        (
            row["metric"],
            row[group_by],
            row["lag_days"],
            row["credits"] or 0.0,
            Decimal(row["money"] or 0.0),
        )
        for row in query
    ]
