"""Writes of the rule scores: fit and engagement for every lead at once (set-based SQL), for
one lead from all its data, and incrementally for new tracking events and given points.

Temperature and stage follow each per-lead write (:mod:`.qualification`); the predictive
probability is stored beside the rule scores (:mod:`.predictions`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection, Sequence

from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from leadmill.contacts.models import Contact
from leadmill.core import events
from leadmill.tracking.models import Event

from . import rules
from .events import ScoreChanged, ScoresRecomputed
from .models import ContactScore, EngagementRule, FitRule, ScoreAdjustment, ScoringSettings
from .predictions import predictive_scores_fill, predictive_store
from .qualification import contact_qualify
from .selectors import engagement_now

logger = logging.getLogger(__name__)

# Engagement differences below this are rounding, not a change worth a write.
ENGAGEMENT_EPSILON = 1e-6


@dataclasses.dataclass(frozen=True)
class ActiveRules:
    fit: list[FitRule]
    engagement: list[EngagementRule]


def _rules_active() -> ActiveRules:
    return ActiveRules(
        fit=list(FitRule.objects.filter(is_active=True).order_by("pk")),
        engagement=list(
            EngagementRule.objects.filter(is_active=True).select_related("form").order_by("pk")
        ),
    )


def _scores_select(*, at: dt.datetime, contact_ids: list[int] | None) -> tuple[str, list]:
    """``SELECT contact_id, fit_score, engagement_score, intent_at`` of every contact (or of
    ``contact_ids``) from the active rules, with its parameters."""
    active = _rules_active()
    settings = ScoringSettings.load()
    fit_sql, fit_params = rules.fit_queryset(
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


def _engagement_changed_sql(stored: str, computed: str) -> str:
    """True when the stored engagement (``stored``: a table alias), decayed to the reference
    time (the first ``%s``), or the intent time differs from the ``computed`` row's."""
    stored_now = rules.decay_sql(
        f"{stored}.engagement_score",
        f"{stored}.engagement_at",
        ScoringSettings.load().half_life_days,
    )
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    return (
        f"(ABS({stored_now} - {computed}.engagement_score) "
        f"> {ENGAGEMENT_EPSILON!r} * (1 + ABS({computed}.engagement_score)) "
        f"OR {stored}.intent_at {distinct} {computed}.intent_at)"
    )


def _scores_upsert(*, at: dt.datetime, contact_ids: list[int] | None) -> int:
    """Write the scores of every contact (or of ``contact_ids``) from the rules in one
    ``INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE changed``; returns the rows written."""
    select, select_params = _scores_select(at=at, contact_ids=contact_ids)
    table = connection.ops.quote_name(ContactScore._meta.db_table)
    last_event_id = Event.objects.aggregate(last=Max("pk"))["last"] or 0
    sql = (
        f"INSERT INTO {table} (contact_id, fit_score, engagement_score, engagement_at, intent_at, "  # noqa: S608 -- quoted names, compiled SQL and placeholders only
        f"last_event_id, updated_at) "
        f"SELECT s.contact_id, s.fit_score, s.engagement_score, %s, s.intent_at, %s, %s "
        f"FROM ({select}) s WHERE true "
        f"ON CONFLICT (contact_id) DO UPDATE SET fit_score = excluded.fit_score, "
        f"engagement_score = excluded.engagement_score, engagement_at = excluded.engagement_at, "
        f"intent_at = excluded.intent_at, updated_at = excluded.updated_at, "
        f"last_event_id = CASE WHEN excluded.last_event_id > {table}.last_event_id "
        f"THEN excluded.last_event_id ELSE {table}.last_event_id END "
        f"WHERE {table}.fit_score <> excluded.fit_score "
        f"OR {_engagement_changed_sql(table, 'excluded')}"
    )
    reference = rules.reference_param(at)
    params = [reference, last_event_id, reference, *select_params, reference]
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
    ``last_event_id`` and ``updated_at`` as the upsert does. A lead whose fit alone changed
    keeps its stored engagement and its reference time (its value now is the same). A lead
    counts once in the rows written, whatever changed.
    """
    select, select_params = _scores_select(at=at, contact_ids=None)
    table = connection.ops.quote_name(ContactScore._meta.db_table)
    last_event_id = Event.objects.aggregate(last=Max("pk"))["last"] or 0
    reference = rules.reference_param(at)
    computed = (
        "SELECT s.contact_id, s.fit_score, s.engagement_score, s.intent_at, "  # noqa: S608 -- quoted names and compiled SQL only
        "stored.contact_id IS NULL AS is_new, "
        "stored.fit_score IS NOT s.fit_score AS fit_changed, "
        f"{_engagement_changed_sql('stored', 's')} AS engagement_changed "
        f"FROM ({select}) s LEFT JOIN {table} stored ON stored.contact_id = s.contact_id"
    )
    moved = (
        f"last_event_id = MAX({table}.last_event_id, %s), updated_at = %s "
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
                [last_event_id, reference],
            )
            cursor.execute(
                f"UPDATE {table} SET engagement_score = r.engagement_score, "  # noqa: S608
                f"engagement_at = %s, intent_at = r.intent_at, {moved} AND r.engagement_changed",
                [reference, last_event_id, reference],
            )
            cursor.execute(
                f"INSERT INTO {table} (contact_id, fit_score, engagement_score, engagement_at, "  # noqa: S608
                "intent_at, last_event_id, updated_at) SELECT contact_id, fit_score, "
                f"engagement_score, %s, intent_at, %s, %s FROM {RECOMPUTED} WHERE is_new",
                [reference, last_event_id, reference],
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
            changed = _scores_upsert(at=at, contact_ids=None)
        events.publish(ScoresRecomputed(changed=changed, occurred_at=at))
    logger.info("scores recomputed for every lead: %s rows changed", changed)
    predictive_scores_fill()
    return changed


def _score_event_publish(
    before: tuple | None, score: ContactScore, *, at: dt.datetime, half_life_days: float
) -> None:
    after = (score.fit_score, engagement_now(score=score, at=at, half_life_days=half_life_days))
    moved = before is None or before[0] != after[0]
    if moved or abs(before[1] - after[1]) > ENGAGEMENT_EPSILON * (1 + abs(after[1])):
        events.publish(
            ScoreChanged(
                contact_id=score.contact_id,
                fit_score=after[0],
                engagement_score=after[1],
                occurred_at=at,
            )
        )


def contact_score_refresh(*, contact_id: int, at: dt.datetime | None = None) -> ContactScore | None:
    """Recompute one lead's scores from all its data (the set-based statement for one
    contact), store its predictive probability, then its temperature and stage.

    Idempotent: running it twice changes nothing the second time. Publishes ScoreChanged
    when a score moved. Returns None when the contact does not exist.
    """
    at = at or timezone.now()
    settings = ScoringSettings.load()
    with transaction.atomic():
        previous = ContactScore.objects.select_for_update().filter(contact_id=contact_id).first()
        before = (
            (
                previous.fit_score,
                engagement_now(score=previous, at=at, half_life_days=settings.half_life_days),
            )
            if previous
            else None
        )
        _scores_upsert(at=at, contact_ids=[contact_id])
        score = ContactScore.objects.select_related("contact").filter(contact_id=contact_id).first()
        if score is None:
            return None
        predictive_store(score=score)
        _score_event_publish(before, score, at=at, half_life_days=settings.half_life_days)
        contact_qualify(score=score, settings=settings, at=at)
    return score


# --- Incremental: new tracking events ------------------------------------------------------------


def _rules_matching(events_: Sequence[Event]) -> dict[int, list[EngagementRule]]:
    """For each event (by id), the active engagement rules it meets: one query for the rules."""
    by_type: dict[str, list[EngagementRule]] = defaultdict(list)
    for rule in EngagementRule.objects.filter(
        is_active=True, event_type__in={event.type for event in events_}
    ).select_related("form"):
        by_type[rule.event_type].append(rule)
    return {
        event.pk: [rule for rule in by_type[event.type] if rules.event_matches(rule, event)]
        for event in events_
    }


def _contact_events_apply(
    *,
    contact_id: int,
    new_events: Sequence[Event],
    matched: dict[int, list[EngagementRule]],
    settings: ScoringSettings,
    at: dt.datetime,
) -> ContactScore | None:
    """Add one lead's new events (id order) to its stored engagement; one transaction."""
    with transaction.atomic():
        score = ContactScore.objects.select_for_update().filter(contact_id=contact_id).first()
        if score is None:
            return contact_score_refresh(contact_id=contact_id, at=at)
        fresh = [event for event in new_events if event.pk > score.last_event_id]
        if not fresh:
            return score
        before = (
            score.fit_score,
            engagement_now(score=score, at=at, half_life_days=settings.half_life_days),
        )
        engagement, counted = before[1], False
        for event in fresh:
            for rule in matched[event.pk]:
                counted = True
                points = _points_within_cap(rule, event) if rule.is_capped else rule.points
                engagement += points * 0.5 ** (
                    _days(at - event.occurred_at) / settings.half_life_days
                )
                if rule.is_intent_signal and (
                    score.intent_at is None or event.occurred_at > score.intent_at
                ):
                    score.intent_at = event.occurred_at
        score.engagement_score, score.engagement_at = engagement, at
        score.last_event_id, score.updated_at = fresh[-1].pk, at
        score.save(
            update_fields=[
                "engagement_score",
                "engagement_at",
                "intent_at",
                "last_event_id",
                "updated_at",
            ]
        )
        if counted:
            _score_event_publish(before, score, at=at, half_life_days=settings.half_life_days)
            contact_qualify(score=score, settings=settings, at=at)
    return score


def score_apply_event(*, event_id: int, at: dt.datetime | None = None) -> ContactScore | None:
    """Add one new tracking event to its lead's engagement in O(1): decay the stored value
    to now, add the points of every active rule the event matches (within their caps),
    then update temperature and stage. Subscribed to tracking's ``ContactEventRecorded``.

    Idempotent per event: an event whose id is not above the lead's ``last_event_id`` was
    counted already and changes nothing. Bots and events without a contact count nothing
    (and return None). A lead without a score row yet gets a full
    :func:`contact_score_refresh`. An event older than others already counted is added
    with its own decay, but a cap is checked only against the earlier events; the next
    recompute makes that exact.
    """
    at = at or timezone.now()
    event = Event.objects.filter(pk=event_id).first()
    if event is None or event.contact_id is None or event.is_bot:
        return None
    return _contact_events_apply(
        contact_id=event.contact_id,
        new_events=[event],
        matched=_rules_matching([event]),
        settings=ScoringSettings.load(),
        at=at,
    )


def score_events_apply(*, event_ids: Collection[int], at: dt.datetime | None = None) -> int:
    """:func:`score_apply_event` for a batch of new events (an ingest batch of the collect
    endpoint): one query for the events, one for the rules, then one short transaction per
    lead, its events added in id order. Bots and events without a contact are left out.
    Returns how many leads were scored."""
    at = at or timezone.now()
    new_events = list(
        Event.objects.filter(pk__in=list(event_ids), is_bot=False, contact__isnull=False).order_by(
            "pk"
        )
    )
    if not new_events:
        return 0
    matched = _rules_matching(new_events)
    settings = ScoringSettings.load()
    by_contact: dict[int, list[Event]] = defaultdict(list)
    for event in new_events:
        by_contact[event.contact_id].append(event)
    for contact_id, contact_events in by_contact.items():
        _contact_events_apply(
            contact_id=contact_id,
            new_events=contact_events,
            matched=matched,
            settings=settings,
            at=at,
        )
    return len(by_contact)


def _days(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 86400


def _points_within_cap(rule: EngagementRule, event: Event) -> int:
    """The points the rule still gives for ``event`` in its period: the cap minus what the
    lead's earlier hits of the rule in the same period already took."""
    period = rules.period_of(event.occurred_at, rule.cap_days)
    start = dt.datetime.fromtimestamp(period * 86400 * rule.cap_days, tz=dt.UTC)
    earlier = (
        rules.engagement_hits_queryset(rule, contact_ids=[event.contact_id])
        .filter(hit_at__gte=start)
        .filter(Q(hit_at__lt=event.occurred_at) | Q(hit_at=event.occurred_at, hit_id__lt=event.pk))
        .count()
    )
    raw_before = earlier * rule.points
    return min(rule.cap_points, raw_before + rule.points) - min(rule.cap_points, raw_before)


# --- Points given by a person or an automation ---------------------------------------------------


def score_points_add(
    *, contact_id: int, points: int, reason: str, at: dt.datetime | None = None
) -> ContactScore | None:
    """Give a lead engagement points (negative ones take points away) from a person or an
    automation, such as a sequence step "add points".

    Stored as a :class:`.models.ScoreAdjustment` given at ``at`` (default now): the points
    decay from then like a behaviour's, count in every recompute and show among the lead's
    reasons with ``reason``. The lead's stored engagement is updated at once (decayed to
    now, plus the points), then its temperature and stage; publishes ScoreChanged. Each
    call adds its points: a caller that may run twice must not call twice.

    Returns the lead's scores, or None when the contact does not exist.
    """
    now = timezone.now()
    at = at or now
    reference = max(now, at)
    settings = ScoringSettings.load()
    with transaction.atomic():
        if not Contact.objects.filter(pk=contact_id).exists():
            return None
        ScoreAdjustment.objects.create(
            contact_id=contact_id, points=points, reason=reason[:200], occurred_at=at
        )
        score = ContactScore.objects.select_for_update().filter(contact_id=contact_id).first()
        if score is None:
            return contact_score_refresh(contact_id=contact_id, at=reference)
        before = (
            score.fit_score,
            engagement_now(score=score, at=reference, half_life_days=settings.half_life_days),
        )
        decayed = points * 0.5 ** (_days(reference - at) / settings.half_life_days)
        score.engagement_score, score.engagement_at = before[1] + decayed, reference
        score.updated_at = reference
        score.save(update_fields=["engagement_score", "engagement_at", "updated_at"])
        _score_event_publish(before, score, at=reference, half_life_days=settings.half_life_days)
        contact_qualify(score=score, settings=settings, at=reference)
    logger.info("%+d points to contact %s: %s", points, contact_id, reason)
    return score
