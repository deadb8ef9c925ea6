"""Temperature and stage from the scores: cold / warm / hot, lead ⇄ MQL, for one lead (after
its scores changed) or every lead in batches (as engagement decays)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence

from django.db import connection, transaction
from django.utils import timezone

from leadmill.contacts.models import Contact, LifecycleStage, StageChange, Temperature
from leadmill.contacts.services import contacts_stage_change
from leadmill.core import events

from . import rules
from .events import TemperatureChanged
from .models import ContactScore, ScoringSettings
from .selectors import engagement_now

logger = logging.getLogger(__name__)

REQUALIFY_BATCH_SIZE = 1000
# Stage-history causes written by the scores start so: only such an MQL may be demoted.
SCORES_CAUSE = "scores:"


@dataclasses.dataclass(frozen=True)
class Qualification:
    temperature: str
    temperature_cause: str
    is_mql: bool
    mql_cause: str


def qualification(
    *,
    fit: int,
    engagement: float,
    intent_at: dt.datetime | None,
    settings: ScoringSettings,
    at: dt.datetime,
) -> Qualification:
    """Temperature and MQL eligibility from scores: hot for ``intent_hot_days`` after an
    intent signal, else by fit + engagement against the warm and hot thresholds; MQL when
    fit and engagement each pass their threshold."""
    total = fit + engagement
    shown = round(engagement)
    if intent_at is not None and at - intent_at < dt.timedelta(days=settings.intent_hot_days):
        temperature, cause = (
            Temperature.HOT,
            f"{SCORES_CAUSE} intent signal on {intent_at:%Y-%m-%d}",
        )
    elif total >= settings.hot_threshold:
        temperature, cause = (
            Temperature.HOT,
            f"{SCORES_CAUSE} fit + engagement {total:.0f} ≥ {settings.hot_threshold}",
        )
    elif total >= settings.warm_threshold:
        temperature, cause = (
            Temperature.WARM,
            f"{SCORES_CAUSE} fit + engagement {total:.0f} ≥ {settings.warm_threshold}",
        )
    else:
        temperature, cause = (
            Temperature.COLD,
            f"{SCORES_CAUSE} fit + engagement {total:.0f} < {settings.warm_threshold}",
        )
    fit_ok, engagement_ok = (
        fit >= settings.mql_fit_threshold,
        engagement >= settings.mql_engagement_threshold,
    )
    if fit_ok and engagement_ok:
        mql_cause = (
            f"{SCORES_CAUSE} fit {fit} ≥ {settings.mql_fit_threshold}, "
            f"engagement {shown} ≥ {settings.mql_engagement_threshold}"
        )
    elif not fit_ok:
        mql_cause = f"{SCORES_CAUSE} fit {fit} < {settings.mql_fit_threshold}"
    else:
        mql_cause = f"{SCORES_CAUSE} engagement {shown} < {settings.mql_engagement_threshold}"
    return Qualification(temperature, cause, fit_ok and engagement_ok, mql_cause)


def contacts_qualify(
    *, scores: Sequence[ContactScore], settings: ScoringSettings, at: dt.datetime
) -> set[int]:
    """Move the leads' temperatures and stages to what their (just written) scores say at
    ``at``; call inside the transaction that wrote the scores. Set-based: one read of the
    contacts, one UPDATE per temperature, one batch of stage changes
    (:func:`~leadmill.contacts.services.contacts_stage_change`), their facts published
    together. Returns the ids of the leads whose temperature or stage moved."""
    by_contact = {score.contact_id: score for score in scores}
    current = {
        pk: (stage, temperature)
        for pk, stage, temperature in Contact.objects.filter(pk__in=sorted(by_contact))
        .order_by("pk")
        .values_list("pk", "lifecycle_stage", "temperature")
    }
    results = {
        pk: qualification(
            fit=by_contact[pk].fit_score,
            engagement=engagement_now(
                score=by_contact[pk], at=at, half_life_days=settings.half_life_days
            ),
            intent_at=by_contact[pk].intent_at,
            settings=settings,
            at=at,
        )
        for pk in current
    }
    return _qualified_write(current=current, results=results, settings=settings, at=at)


def _qualified_write(
    *,
    current: dict[int, tuple[str, str]],
    results: dict[int, Qualification],
    settings: ScoringSettings,
    at: dt.datetime,
) -> set[int]:
    """Write what ``results`` say of the leads whose stage and temperature are ``current``:
    lead → MQL when the scores qualify; MQL → lead when they no longer do, only with
    ``demote_on_decay`` and only when the scores (not a person) made the lead MQL. Returns
    the ids that moved."""
    by_temperature: dict[str, dict[int, str]] = {}
    promote: dict[int, str] = {}
    demote: dict[int, str] = {}
    for pk, result in results.items():
        stage, temperature = current[pk]
        if temperature != result.temperature:
            by_temperature.setdefault(result.temperature, {})[pk] = result.temperature_cause
        if stage == LifecycleStage.LEAD and result.is_mql:
            promote[pk] = result.mql_cause
        elif stage == LifecycleStage.MQL and not result.is_mql and settings.demote_on_decay:
            demote[pk] = result.mql_cause
    temperatures = {pk: temperature for pk, (_stage, temperature) in current.items()}
    for to, causes in by_temperature.items():  # one UPDATE per temperature
        _temperature_set(current=temperatures, to=to, causes=causes, at=at)
    moves = {pk: (LifecycleStage.MQL, cause) for pk, cause in promote.items()}
    moves.update(
        {pk: (LifecycleStage.LEAD, demote[pk]) for pk in _made_mql_by_scores(sorted(demote))}
    )
    changes = contacts_stage_change(moves=moves, at=at)
    return {pk for causes in by_temperature.values() for pk in causes} | {
        change.contact_id for change in changes
    }


def _made_mql_by_scores(contact_ids: list[int]) -> list[int]:
    """The leads among ``contact_ids`` whose latest move to MQL the scores made (one query)."""
    if not contact_ids:
        return []
    latest: dict[int, str] = {}
    for pk, cause in (
        StageChange.objects.filter(contact_id__in=contact_ids, to_stage=LifecycleStage.MQL)
        .order_by("contact_id", "-changed_at", "-pk")
        .values_list("contact_id", "cause")
    ):
        latest.setdefault(pk, cause)
    return [pk for pk in contact_ids if latest.get(pk, "").startswith(SCORES_CAUSE)]


def _temperature_set(
    *, current: dict[int, str], to: str, causes: dict[int, str], at: dt.datetime
) -> int:
    """Move the leads in ``causes`` to temperature ``to`` in one UPDATE; one
    TemperatureChanged each, with its own cause (published together)."""
    moving = [pk for pk in causes if current[pk] != to]
    if not moving:
        return 0
    Contact.objects.filter(pk__in=moving).update(temperature=to)
    events.publish_many(
        [
            TemperatureChanged(
                contact_id=pk,
                from_temperature=current[pk],
                to_temperature=to,
                cause=causes[pk],
                occurred_at=at,
            )
            for pk in moving
        ]
    )
    return len(moving)


def scores_requalify(
    *, at: dt.datetime | None = None, batch_size: int = REQUALIFY_BATCH_SIZE
) -> int:
    """Bring every scored lead's temperature and stage in line with its scores as they
    decayed until ``at``; returns how many leads changed.

    Walks the leads in id order, ``batch_size`` at a time, each batch one short
    transaction: one query finds the leads of the batch whose temperature or stage is out
    of line (decay computed in SQL), one ``UPDATE`` per temperature moves them, and stage
    changes go through :func:`leadmill.contacts.services.contacts_stage_change` (history
    and event). Stored scores are not rewritten.
    """
    at = at or timezone.now()
    settings = ScoringSettings.load()
    changed, after = 0, 0
    while True:
        with transaction.atomic():
            rows, last = _requalify_candidates(
                after=after, batch_size=batch_size, settings=settings, at=at
            )
            changed += _requalify_batch(rows, settings=settings, at=at)
        if last is None:
            break
        after = last
    if changed:
        logger.info("requalified %s leads after decay", changed)
    return changed


def _requalify_candidates(
    *, after: int, batch_size: int, settings: ScoringSettings, at: dt.datetime
) -> tuple[list[tuple], int | None]:
    score_table = connection.ops.quote_name(ContactScore._meta.db_table)
    contact_table = connection.ops.quote_name(Contact._meta.db_table)
    engagement = rules.decay_sql("s.engagement_score", "s.engagement_at", settings.half_life_days)
    total = f"(s.fit_score + {engagement})"
    temperature = (
        f"CASE WHEN s.intent_at > %s THEN 'hot' WHEN {total} >= %s THEN 'hot' "
        f"WHEN {total} >= %s THEN 'warm' ELSE 'cold' END"
    )
    qualifies = f"(s.fit_score >= %s AND {engagement} >= %s)"
    demote = "TRUE" if settings.demote_on_decay else "FALSE"
    sql = (
        f"SELECT c.id, c.lifecycle_stage, c.temperature, s.fit_score, {engagement}, s.intent_at, "  # noqa: S608 -- quoted names and placeholders only
        f"(c.lifecycle_stage = 'lead' AND {qualifies}) OR (c.lifecycle_stage = 'mql' AND {demote} AND NOT {qualifies}) "
        f"OR c.temperature <> {temperature} "
        f"FROM (SELECT contact_id FROM {score_table} WHERE contact_id > %s ORDER BY contact_id LIMIT %s) b "
        f"JOIN {score_table} s ON s.contact_id = b.contact_id JOIN {contact_table} c ON c.id = s.contact_id"
    )
    reference = rules.reference_param(at)
    hot_since = rules.reference_param(at - dt.timedelta(days=settings.intent_hot_days))
    qualifies_params = [settings.mql_fit_threshold, reference, settings.mql_engagement_threshold]
    params = [
        reference,
        *qualifies_params,
        *qualifies_params,
        hot_since,
        reference,
        settings.hot_threshold,
        reference,
        settings.warm_threshold,
        after,
        batch_size,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return [], None
    last = max(row[0] for row in rows)
    return [row for row in rows if row[6]], (last if len(rows) == batch_size else None)


def _requalify_batch(rows: list[tuple], *, settings: ScoringSettings, at: dt.datetime) -> int:
    current: dict[int, tuple[str, str]] = {}
    results: dict[int, Qualification] = {}
    for contact_id, stage, temperature, fit, engagement, intent_at, _out_of_line in rows:
        if isinstance(intent_at, str):  # SQLite hands back the text it stored
            intent_at = dt.datetime.fromisoformat(intent_at)
        if intent_at is not None and timezone.is_naive(intent_at):
            intent_at = intent_at.replace(tzinfo=dt.UTC)
        current[contact_id] = (stage, temperature)
        results[contact_id] = qualification(
            fit=fit, engagement=engagement, intent_at=intent_at, settings=settings, at=at
        )
    return len(_qualified_write(current=current, results=results, settings=settings, at=at))
