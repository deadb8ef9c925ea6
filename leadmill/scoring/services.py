"""Writes of scoring for one lead, the ones other apps and the event handlers call: the rule
scores from all its data (the set-based statement of :mod:`.recompute` for one contact),
incrementally for new tracking events, and points given by a person or an automation.

Temperature and stage follow each per-lead write (:mod:`.qualification`); the predictive
probability is stored beside the rule scores (:mod:`.predictions`).

The writes over every lead, each a concept of its own, live in their modules beside this
one and are imported from there (ADR 0025): :mod:`.recompute` (every lead's scores,
set-based), :mod:`.qualification` (temperature and stage as scores decay),
:mod:`.predictions` (stored probabilities), :mod:`.training` (the predictive model),
:mod:`.outcomes` (importing past leads with their outcome).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection, Sequence

from django.db import transaction
from django.utils import timezone

from leadmill.contacts.models import Contact
from leadmill.core import events
from leadmill.tracking.models import Event

from . import rules
from .events import ScoreChanged
from .models import ContactScore, EngagementRule, ScoreAdjustment, ScoringSettings
from .predictions import predictive_store
from .qualification import contacts_qualify
from .recompute import ENGAGEMENT_EPSILON, ActiveRules, rules_active, scores_upsert
from .selectors import engagement_now, scoring_model_active

logger = logging.getLogger(__name__)


def _score_changed(
    before: tuple | None, score: ContactScore, *, at: dt.datetime, half_life_days: float
) -> ScoreChanged | None:
    """The ScoreChanged fact of a score just written, or None when it did not move."""
    after = (score.fit_score, engagement_now(score=score, at=at, half_life_days=half_life_days))
    moved = before is None or before[0] != after[0]
    if moved or abs(before[1] - after[1]) > ENGAGEMENT_EPSILON * (1 + abs(after[1])):
        return ScoreChanged(
            contact_id=score.contact_id,
            fit_score=after[0],
            engagement_score=after[1],
            occurred_at=at,
        )
    return None


def _score_events_publish(
    befores: dict[int, tuple],
    scores: Sequence[ContactScore],
    *,
    at: dt.datetime,
    half_life_days: float,
) -> None:
    """Publish, in one INSERT, the ScoreChanged facts of the scores that moved."""
    changed = [
        _score_changed(befores.get(score.contact_id), score, at=at, half_life_days=half_life_days)
        for score in scores
    ]
    events.publish_many([fact for fact in changed if fact is not None])


def contact_score_refresh(*, contact_id: int, at: dt.datetime | None = None) -> ContactScore | None:
    """:func:`contacts_score_refresh` for one lead; None when the contact does not exist."""
    return contacts_score_refresh(contact_ids=[contact_id], at=at).get(contact_id)


def contacts_score_refresh(
    *, contact_ids: Collection[int], at: dt.datetime | None = None
) -> dict[int, ContactScore]:
    """Recompute the leads' scores from all their data (the set-based statement, one for
    all of them), store their predictive probabilities, then their temperatures and stages;
    one transaction.

    Idempotent: running it twice changes nothing the second time. Publishes ScoreChanged
    for each lead whose score moved. The score rows are locked in contact order (two
    batches never deadlock). Returns each existing lead's scores (a contact that does not
    exist is left out).
    """
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    at = at or timezone.now()
    settings = ScoringSettings.load()
    active = rules_active()
    with transaction.atomic():
        before = {
            score.contact_id: (
                score.fit_score,
                engagement_now(score=score, at=at, half_life_days=settings.half_life_days),
            )
            for score in ContactScore.objects.select_for_update()
            .filter(contact_id__in=ids)
            .order_by("contact_id")
        }
        scores_upsert(at=at, contact_ids=ids, active=active, settings=settings)
        scores = {
            score.contact_id: score
            for score in ContactScore.objects.select_related("contact")
            .filter(contact_id__in=ids)
            .order_by("contact_id")
        }
        if scoring_model_active() is not None:  # one query, not one per lead
            for score in scores.values():
                predictive_store(score=score)
        _score_events_publish(
            before, list(scores.values()), at=at, half_life_days=settings.half_life_days
        )
        contacts_qualify(scores=list(scores.values()), settings=settings, at=at)
    return scores


# --- Incremental: new tracking events ------------------------------------------------------------


def _counting(events_: Sequence[Event], engagement_rules: Sequence[EngagementRule]) -> set[int]:
    """The leads of ``events_`` with at least one event an active engagement rule counts:
    an event no rule counts cannot move a score."""
    by_type: dict[str, list[EngagementRule]] = defaultdict(list)
    for rule in engagement_rules:
        by_type[rule.event_type].append(rule)
    return {
        event.contact_id
        for event in events_
        if any(rules.event_matches(rule, event) for rule in by_type[event.type])
    }


def _written(score: ContactScore) -> tuple:
    return (score.fit_score, score.engagement_score, score.engagement_at, score.intent_at)


def _contacts_engagement_refresh(
    *, contact_ids: Collection[int], active: ActiveRules, at: dt.datetime
) -> dict[int, ContactScore | None]:
    """Rescore the leads ``contact_ids`` from their events, one statement for all, in one
    transaction; then, for each lead whose scores moved, ScoreChanged, temperature and stage.
    Returns each lead's scores.

    The score rows are locked (in contact order, so two batches never deadlock) before the
    statement reads the events, so a delivery that waited for the lock sees every event
    committed before it. A lead without a score row yet gets :func:`contact_score_refresh`.
    """
    settings = ScoringSettings.load()
    with transaction.atomic():
        stored = {
            score.contact_id: score
            for score in ContactScore.objects.select_for_update()
            .filter(contact_id__in=sorted(contact_ids))
            .order_by("contact_id")
        }
        scores: dict[int, ContactScore | None] = {}
        if stored:
            before = {
                pk: (
                    score.fit_score,
                    engagement_now(score=score, at=at, half_life_days=settings.half_life_days),
                )
                for pk, score in stored.items()
            }
            scores_upsert(at=at, contact_ids=sorted(stored), active=active, settings=settings)
            moved = []
            for score in ContactScore.objects.filter(contact_id__in=sorted(stored)).order_by(
                "contact_id"
            ):
                scores[score.contact_id] = score
                if _written(stored[score.contact_id]) != _written(score):
                    moved.append(score)  # else the statement wrote nothing: no score moved
            _score_events_publish(before, moved, at=at, half_life_days=settings.half_life_days)
            contacts_qualify(scores=moved, settings=settings, at=at)
    unscored = sorted(set(contact_ids) - stored.keys())
    if unscored:
        refreshed = contacts_score_refresh(contact_ids=unscored, at=at)
        scores.update({contact_id: refreshed.get(contact_id) for contact_id in unscored})
    return scores


def score_apply_event(*, event_id: int, at: dt.datetime | None = None) -> ContactScore | None:
    """Bring one new tracking event into its lead's engagement, then temperature and stage.
    Subscribed (through tracking's ``ContactEventRecorded``) for server-side events.

    The lead's engagement is computed from its counted events themselves, by the statement
    of the full recompute for that one lead (:func:`.recompute.scores_upsert`), so each
    (lead, event) counts once whatever the order or the number of deliveries: an event
    delivered late, after newer ones, or twice, gives what a recompute gives, caps included.
    The cost grows with the lead's events (read through the events' contact index), not
    with the number of leads. Bots, events without a contact and events no active rule
    counts change nothing (and return None). A lead without a score row yet gets a full
    :func:`contact_score_refresh`.
    """
    at = at or timezone.now()
    event = Event.objects.filter(pk=event_id).first()
    if event is None or event.contact_id is None or event.is_bot:
        return None
    active = rules_active()
    if not _counting([event], active.engagement):
        return None
    return _contacts_engagement_refresh(contact_ids=[event.contact_id], active=active, at=at)[
        event.contact_id
    ]


def score_events_apply(*, event_ids: Collection[int], at: dt.datetime | None = None) -> int:
    """:func:`score_apply_event` for a batch of new events (an ingest batch of the collect
    endpoint): one query for the events, two for the rules, then one statement that
    rescores every lead of the batch with an event a rule counts. Bots and events without a
    contact are left out. Idempotent, whatever the order of batches. Returns how many leads
    were rescored."""
    at = at or timezone.now()
    new_events = list(
        Event.objects.filter(pk__in=list(event_ids), is_bot=False, contact__isnull=False)
    )
    if not new_events:
        return 0
    active = rules_active()
    leads = _counting(new_events, active.engagement)
    if leads:
        _contacts_engagement_refresh(contact_ids=leads, active=active, at=at)
    return len(leads)


def _days(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 86400


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
        _score_events_publish(
            {contact_id: before}, [score], at=reference, half_life_days=settings.half_life_days
        )
        contacts_qualify(scores=[score], settings=settings, at=reference)
    logger.info("%+d points to contact %s: %s", points, contact_id, reason)
    return score
