"""Why a lead scores as it does, in sentences for people (sales' "My leads" and lead page).

Reads only. The behaviour lines recount the lead's recent hits of each engagement rule in
Python from a few queries (the lead's recent events, submissions and given points), so
they explain the stored score without rewriting it; the stored score stays the reference.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from leadmill.capture.models import Submission
from leadmill.contacts.models import Contact
from leadmill.tracking.models import Event

from . import rules
from .models import LEAD_CAPTURED, ContactScore, EngagementRule, ScoreAdjustment, ScoringSettings
from .selectors import CUSTOM_PREFIX, engagement_now, predictive_score

# Behaviour older than this many half-lives is worth less than an eighth: not a reason.
REASON_HALF_LIVES = 3
TOP_BEHAVIOURS = 3
MAX_EVENTS_READ = 500


def rule_name_display(name: str) -> str:
    """A rule's name in the reader's language when it is one Leadmill wrote (the demo's
    rules, named in its message catalogue: "Asked for a demo" reads "Pediu uma
    demonstração" in pt-BR); a name a marketer wrote, as written (ADR 53)."""
    return gettext(name) if name else name


def feature_label(field: str) -> str:
    """A predictive field as people name it, in the reader's language ("Company size",
    "Tamanho da empresa"); a custom field by its key."""
    if field.startswith(CUSTOM_PREFIX):
        return field.removeprefix(CUSTOM_PREFIX)
    try:
        return str(Contact._meta.get_field(field).verbose_name)
    except FieldDoesNotExist:
        return field


@dataclass
class _Contribution:
    label: str
    hits: int = 0
    points_now: float = 0.0


def lead_score_reasons(*, contact: Contact, at: dt.datetime | None = None) -> list[str]:
    """Sentences, strongest first: a recent intent signal, the behaviours worth the most
    points now (rule, times, points after decay), points given by people or sequences, the
    predictive chance with its top fields, then fit and engagement. Empty before the lead
    was ever scored.

    Caps are applied per period over the hits read (the last ``REASON_HALF_LIVES``
    half-lives, at most ``MAX_EVENTS_READ`` events), so a line may differ slightly from
    what the full recompute counted; the totals on the last line are the stored ones.
    """
    score = ContactScore.objects.filter(contact_id=contact.pk).first()
    if score is None:
        return []
    at = at or timezone.now()
    settings = ScoringSettings.load()
    half_life = settings.half_life_days
    since = at - dt.timedelta(days=half_life * REASON_HALF_LIVES)
    reasons: list[str] = []
    if score.intent_at is not None and at - score.intent_at < dt.timedelta(
        days=settings.intent_hot_days
    ):
        reasons.append(
            _("Strong buying intent on %(date)s.") % {"date": f"{score.intent_at:%Y-%m-%d}"}
        )
    contributions = _behaviour_contributions(contact.pk, since=since, at=at, half_life=half_life)
    for item in contributions[:TOP_BEHAVIOURS]:
        reasons.append(
            _("%(rule)s: %(hits)d× in the last %(days)d days, %(points)+.0f points now.")
            % {
                "rule": rule_name_display(item.label),
                "hits": item.hits,
                "days": round(half_life * REASON_HALF_LIVES),
                "points": item.points_now,
            }
        )
    for adjustment in ScoreAdjustment.objects.filter(
        contact_id=contact.pk, occurred_at__gte=since
    ).order_by("-occurred_at")[:TOP_BEHAVIOURS]:
        reasons.append(
            _("%(points)+d points on %(date)s: %(reason)s")
            % {
                "points": adjustment.points,
                "date": f"{adjustment.occurred_at:%Y-%m-%d}",
                "reason": adjustment.reason or _("given by hand"),
            }
        )
    predicted = predictive_score(contact=contact)
    if predicted is not None:
        fields = ", ".join(
            f"{feature_label(reason.field)} = {reason.value or '?'}"
            for reason in predicted.reasons
            if reason.effect > 0
        )
        line = _("Chance to win: %(percent).0f %%.") % {"percent": predicted.probability * 100}
        because = _("Mostly because of %(fields)s.") % {"fields": fields} if fields else ""
        reasons.append(f"{line} {because}" if because else line)
    reasons.append(
        _("Fit %(fit)d, engagement %(engagement).0f.")
        % {
            "fit": score.fit_score,
            "engagement": engagement_now(score=score, at=at, half_life_days=half_life),
        }
    )
    return reasons


def _behaviour_contributions(
    contact_id: int, *, since: dt.datetime, at: dt.datetime, half_life: float
) -> list[_Contribution]:
    """Each active engagement rule's recent hits for the lead and their decayed points,
    most points first (rules that gave nothing left out)."""
    engagement_rules = list(
        EngagementRule.objects.filter(is_active=True).select_related("form", "offer")
    )
    if not engagement_rules:
        return []
    tracking_types = {rule.event_type for rule in engagement_rules} - {LEAD_CAPTURED}
    hits: dict[int, list[tuple[dt.datetime, int]]] = defaultdict(list)
    if tracking_types:
        recent = Event.objects.filter(
            contact_id=contact_id, is_bot=False, occurred_at__gte=since, type__in=tracking_types
        ).order_by("-occurred_at")[:MAX_EVENTS_READ]
        for event in recent:
            for rule in engagement_rules:
                if rule.event_type != LEAD_CAPTURED and rules.event_matches(rule, event):
                    hits[rule.pk].append((event.occurred_at, event.pk))
    if any(rule.event_type == LEAD_CAPTURED for rule in engagement_rules):
        submissions = Submission.objects.filter(
            contact_id=contact_id, status=Submission.Status.ACCEPTED, created_at__gte=since
        ).values_list("pk", "created_at", "form_id", "form__offer_id")
        for pk, created_at, form_id, offer_id in submissions:
            for rule in engagement_rules:
                if (
                    rule.event_type == LEAD_CAPTURED
                    and rule.form_id in (None, form_id)
                    and rule.offer_id in (None, offer_id)
                ):
                    hits[rule.pk].append((created_at, pk))
    result = []
    for rule in engagement_rules:
        if not hits[rule.pk]:
            continue
        item = _Contribution(label=rule.name, hits=len(hits[rule.pk]))
        per_period: dict[int, int] = defaultdict(int)
        for occurred_at, _pk in sorted(hits[rule.pk]):
            points = rule.points
            if rule.is_capped:
                period = rules.period_of(occurred_at, rule.cap_days)
                before = per_period[period] * rule.points
                per_period[period] += 1
                points = min(rule.cap_points, before + rule.points) - min(rule.cap_points, before)
            item.points_now += points * 0.5 ** (
                (at - occurred_at).total_seconds() / 86400 / half_life
            )
        if abs(item.points_now) >= 0.5:
            result.append(item)
    result.sort(key=lambda item: -abs(item.points_now))
    return result
