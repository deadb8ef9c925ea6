"""Writes of the rule scores for one lead: from all its data (the set-based statement of
:mod:`.recompute` for one contact), incrementally for new tracking events, and given points.

Temperature and stage follow each per-lead write (:mod:`.qualification`); the predictive
probability is stored beside the rule scores (:mod:`.predictions`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection, Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from leadmill.contacts.models import Contact
from leadmill.core import events
from leadmill.tracking.models import Event

from . import rules
from .events import ScoreChanged
from .models import ContactScore, EngagementRule, ScoreAdjustment, ScoringSettings
from .predictions import predictive_store
from .qualification import contact_qualify
from .recompute import ENGAGEMENT_EPSILON, scores_upsert
from .selectors import engagement_now

logger = logging.getLogger(__name__)

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
        scores_upsert(at=at, contact_ids=[contact_id])
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
