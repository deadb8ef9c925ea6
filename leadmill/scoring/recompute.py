"""Fit and engagement for every lead at once, set-based: one SQL statement computes the
scores from the rules, and only the rows whose scores changed are written (on PostgreSQL one
upsert; on SQLite a temporary table written by column family, see ADR 7).

:mod:`.services` uses the same statement for one lead (:func:`scores_upsert` with its id).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from django.db import connection, transaction
from django.utils import timezone

from leadmill.core import events

from . import fit_rules, rules
from .events import ScoresRecomputed
from .models import ContactScore, EngagementRule, FitRule, ScoringSettings
from .predictions import predictive_scores_fill

logger = logging.getLogger(__name__)

# Engagement differences below this are rounding, not a change worth a write.
ENGAGEMENT_EPSILON = 1e-6


@dataclasses.dataclass(frozen=True)
class ActiveRules:
    fit: list[FitRule]
    engagement: list[EngagementRule]


def rules_active() -> ActiveRules:
    """The active fit and engagement rules, in the order the statement adds them."""
    return ActiveRules(
        fit=list(FitRule.objects.filter(is_active=True).order_by("pk")),
        engagement=list(
            EngagementRule.objects.filter(is_active=True).select_related("form").order_by("pk")
        ),
    )


# The per-lead statement, compiled once per set of rules and number of leads: compiling it
# through Django's query compiler costs more than running it for a lead (a dozen querysets).
# Compiled with stand-in values, whose places in the parameters are then filled per call.
_STAND_IN_AT = dt.datetime(1901, 1, 1, 0, 0, 0, 123457, tzinfo=dt.UTC)
_STAND_IN_ID = -(2**62)
_compiled: dict[tuple, tuple[str, list]] = {}


def _rules_key(active: ActiveRules, settings: ScoringSettings, *, leads: int) -> tuple:
    """Everything the compiled statement depends on: the vendor, the half-life, every
    field of every active rule (and the slug of a rule's form), the number of leads."""

    def values(rule) -> tuple:
        return tuple(getattr(rule, field.attname) for field in rule._meta.concrete_fields)

    return (
        connection.vendor,
        float(settings.half_life_days),
        tuple(values(rule) for rule in active.fit),
        tuple(
            (*values(rule), rule.form.slug if rule.form_id else None) for rule in active.engagement
        ),
        leads,
    )


def _scores_select(
    *,
    at: dt.datetime,
    contact_ids: list[int] | None,
    active: ActiveRules,
    settings: ScoringSettings,
) -> tuple[str, list]:
    """``SELECT contact_id, fit_score, engagement_score, intent_at`` of every contact (or of
    ``contact_ids``: compiled once per set of rules, see ``_compiled``) from the active
    rules, with its parameters."""
    if contact_ids is None:
        return _scores_compile(at=at, contact_ids=None, active=active, settings=settings)
    key = _rules_key(active, settings, leads=len(contact_ids))
    if key not in _compiled:
        stand_ins = [_STAND_IN_ID - i for i in range(len(contact_ids))]
        sql, params = _scores_compile(
            at=_STAND_IN_AT, contact_ids=stand_ins, active=active, settings=settings
        )
        reference = rules.reference_param(_STAND_IN_AT)
        slots = [
            ("at",)
            if type(param) is type(reference) and param == reference
            else ("lead", _STAND_IN_ID - param)
            if type(param) is int and _STAND_IN_ID - len(stand_ins) < param <= _STAND_IN_ID
            else ("value", param)
            for param in params
        ]
        if len(_compiled) >= 256:
            _compiled.clear()
        _compiled[key] = (sql, slots)
    sql, slots = _compiled[key]
    reference = rules.reference_param(at)
    return sql, [
        reference if slot[0] == "at" else contact_ids[slot[1]] if slot[0] == "lead" else slot[1]
        for slot in slots
    ]


def _scores_compile(
    *,
    at: dt.datetime,
    contact_ids: list[int] | None,
    active: ActiveRules,
    settings: ScoringSettings,
) -> tuple[str, list]:
    fit_sql, fit_params = fit_rules.fit_queryset(
        active.fit, contact_ids=contact_ids
    ).query.sql_with_params()
    engagement = rules.engagement_sql(
        active.engagement, half_life_days=settings.half_life_days, at=at, contact_ids=contact_ids
    )
    sql = (
        "SELECT f.score_contact AS contact_id, f.fit AS fit_score, "  # noqa: S608 -- compiled SQL only
        "COALESCE(e.engagement, 0) AS engagement_score, e.intent_at AS intent_at "
        f"FROM ({fit_sql}) f LEFT JOIN ({engagement.sql}) e ON e.contact_id = f.score_contact"
    )
    return sql, [*fit_params, *engagement.params]


def _engagement_changed_sql(stored: str, computed: str, *, half_life_days: float) -> str:
    """True when the stored engagement (``stored``: a table alias), decayed to the reference
    time (the first ``%s``), or the intent time differs from the ``computed`` row's."""
    stored_now = rules.decay_sql(
        f"{stored}.engagement_score",
        f"{stored}.engagement_at",
        half_life_days,
    )
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    return (
        f"(ABS({stored_now} - {computed}.engagement_score) "
        f"> {ENGAGEMENT_EPSILON!r} * (1 + ABS({computed}.engagement_score)) "
        f"OR {stored}.intent_at {distinct} {computed}.intent_at)"
    )


def scores_upsert(
    *,
    at: dt.datetime,
    contact_ids: list[int] | None,
    active: ActiveRules | None = None,
    settings: ScoringSettings | None = None,
) -> int:
    """Write the scores of every contact (or of ``contact_ids``) from the rules in one
    ``INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE changed``; returns the rows written.
    ``active`` and ``settings``, when the caller has them, save reading them again."""
    settings = settings or ScoringSettings.load()
    select, select_params = _scores_select(
        at=at, contact_ids=contact_ids, active=active or rules_active(), settings=settings
    )
    table = connection.ops.quote_name(ContactScore._meta.db_table)
    sql = (
        f"INSERT INTO {table} (contact_id, fit_score, engagement_score, engagement_at, intent_at, "  # noqa: S608 -- quoted names, compiled SQL and placeholders only
        f"updated_at) "
        f"SELECT s.contact_id, s.fit_score, s.engagement_score, %s, s.intent_at, %s "
        f"FROM ({select}) s WHERE true "
        f"ON CONFLICT (contact_id) DO UPDATE SET fit_score = excluded.fit_score, "
        f"engagement_score = excluded.engagement_score, engagement_at = excluded.engagement_at, "
        f"intent_at = excluded.intent_at, updated_at = excluded.updated_at "
        f"WHERE {table}.fit_score <> excluded.fit_score "
        f"OR {_engagement_changed_sql(table, 'excluded', half_life_days=settings.half_life_days)}"
    )
    reference = rules.reference_param(at)
    params = [reference, reference, *select_params, reference]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


RECOMPUTED = "scoring_recomputed"  # SQLite: the temporary table of a full recompute


def _scores_write_by_column(*, at: dt.datetime) -> int:
    """SQLite: write every contact's scores from the rules, each column family only where
    it changed; returns the rows written.

    SQLite rewrites an index entry for every row an ``UPDATE`` sets an indexed column of,
    even to the same value, so the upsert (which sets every column of a changed row)
    rewrote the engagement index of every lead when only a fit rule changed, and a row
    changed there cost five times a plain ``UPDATE`` of the fit. Here the scores are
    computed once into a temporary table, with what changed for each lead, then written
    by up to three statements: the fit where it changed; engagement, its reference time
    and intent where they changed; the leads without a score row. Both updates move
    ``updated_at`` as the upsert does. A lead whose fit alone changed
    keeps its stored engagement and its reference time (its value now is the same). A lead
    counts once in the rows written, whatever changed.
    """
    settings = ScoringSettings.load()
    select, select_params = _scores_select(
        at=at, contact_ids=None, active=rules_active(), settings=settings
    )
    table = connection.ops.quote_name(ContactScore._meta.db_table)
    reference = rules.reference_param(at)
    computed = (
        "SELECT s.contact_id, s.fit_score, s.engagement_score, s.intent_at, "  # noqa: S608 -- quoted names and compiled SQL only
        "stored.contact_id IS NULL AS is_new, "
        "stored.fit_score IS NOT s.fit_score AS fit_changed, "
        f"{_engagement_changed_sql('stored', 's', half_life_days=settings.half_life_days)} "
        "AS engagement_changed "
        f"FROM ({select}) s LEFT JOIN {table} stored ON stored.contact_id = s.contact_id"
    )
    moved = (
        "updated_at = %s "
        f"FROM {RECOMPUTED} r WHERE r.contact_id = {table}.contact_id AND NOT r.is_new"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS temp.{RECOMPUTED}")
        cursor.execute(
            f"CREATE TEMP TABLE {RECOMPUTED} (contact_id INTEGER PRIMARY KEY, fit_score, "
            "engagement_score, intent_at, is_new, fit_changed, engagement_changed)"
        )
        try:
            cursor.execute(
                f"INSERT INTO {RECOMPUTED} {computed}",  # noqa: S608 -- compiled SQL only
                [reference, *select_params],  # the stored engagement's decay comes first
            )
            cursor.execute(
                f"UPDATE {table} SET fit_score = r.fit_score, {moved} AND r.fit_changed",  # noqa: S608
                [reference],
            )
            cursor.execute(
                f"UPDATE {table} SET engagement_score = r.engagement_score, "  # noqa: S608
                f"engagement_at = %s, intent_at = r.intent_at, {moved} AND r.engagement_changed",
                [reference, reference],
            )
            cursor.execute(
                f"INSERT INTO {table} (contact_id, fit_score, engagement_score, engagement_at, "  # noqa: S608
                "intent_at, updated_at) SELECT contact_id, fit_score, "
                f"engagement_score, %s, intent_at, %s FROM {RECOMPUTED} WHERE is_new",
                [reference, reference],
            )
            cursor.execute(
                f"SELECT COUNT(*) FROM {RECOMPUTED} "  # noqa: S608
                "WHERE is_new OR fit_changed OR engagement_changed"
            )
            return cursor.fetchone()[0]
        finally:
            cursor.execute(f"DROP TABLE temp.{RECOMPUTED}")


def scores_recompute_all(*, at: dt.datetime | None = None) -> int:
    """Recompute every lead's fit and engagement score from the active rules, set-based,
    then its predictive probability with the active model, in batches.

    One SQL query: fit is a sum of ``CASE WHEN`` per fit rule over the contacts table;
    engagement sums each rule's hits (tracking events that are not bots, accepted form
    submissions) and the points given by :func:`score_points_add`, decayed to ``at``, in
    one ``GROUP BY``; only rows whose scores changed are written, so a run over unchanged
    data writes nothing (on PostgreSQL one upsert; on SQLite
    :func:`_scores_write_by_column`). Publishes ScoresRecomputed. Then
    :func:`.predictions.predictive_scores_fill` (vectorised, only changed probabilities
    written; nothing without an active model). Temperature and stage follow with
    :func:`.qualification.scores_requalify`. Returns the rule-score rows written.
    """
    at = at or timezone.now()
    with transaction.atomic():
        if connection.vendor == "sqlite":
            changed = _scores_write_by_column(at=at)
        else:
            changed = scores_upsert(at=at, contact_ids=None)
        events.publish(ScoresRecomputed(changed=changed, occurred_at=at))
    logger.info("scores recomputed for every lead: %s rows changed", changed)
    predictive_scores_fill()
    return changed
