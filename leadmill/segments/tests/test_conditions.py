"""Segment conditions that look beyond the contact row: scores, consent, events and other
segments (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from leadmill.consent.models import Consent, Purpose
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.scoring.models import ContactScore, ScoringSettings
from leadmill.tracking.tests.factories import EventFactory

from ..definitions import SegmentDefinitionError, definition_errors
from ..selectors import segment_contacts
from .factories import SegmentFactory, StaticSegmentFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def members(*conditions, match="all") -> set[int]:
    segment = SegmentFactory(definition={"match": match, "conditions": list(conditions)})
    return set(segment_contacts(segment=segment, now=NOW).values_list("pk", flat=True))


def score(
    contact, *, fit=0, engagement=0.0, engagement_days_ago=0, predictive=None
) -> ContactScore:
    return ContactScore.objects.create(
        contact=contact,
        fit_score=fit,
        engagement_score=engagement,
        engagement_at=NOW - dt.timedelta(days=engagement_days_ago),
        predictive_probability=predictive,
        updated_at=NOW,
    )


# --- Scores --------------------------------------------------------------------------------------


def test_fit_score_comparisons():
    low, exact, high = ContactFactory(), ContactFactory(), ContactFactory()
    score(low, fit=5), score(exact, fit=30), score(high, fit=60)

    assert members({"field": "score.fit", "op": "gt", "value": 30}) == {high.pk}
    assert members({"field": "score.fit", "op": "gte", "value": 30}) == {exact.pk, high.pk}
    assert members({"field": "score.fit", "op": "lt", "value": "30"}) == {low.pk}
    assert members({"field": "score.fit", "op": "lte", "value": 30}) == {low.pk, exact.pk}


def test_a_lead_never_scored_counts_as_zero():
    unscored, scored = ContactFactory(), ContactFactory()
    score(scored, fit=10)

    assert members({"field": "score.fit", "op": "lt", "value": 5}) == {unscored.pk}
    assert members({"field": "score.total", "op": "gte", "value": 0}) == {unscored.pk, scored.pk}
    assert members({"field": "score.fit", "op": "gt", "value": 5}) == {scored.pk}


def test_engagement_is_compared_as_it_has_decayed_by_now():
    settings = ScoringSettings.load()
    settings.half_life_days = 10
    settings.save()
    fresh, faded = ContactFactory(), ContactFactory()
    score(fresh, engagement=40, engagement_days_ago=0)
    score(faded, engagement=40, engagement_days_ago=20)  # 40 * 0.25 = 10 now

    assert members({"field": "score.engagement", "op": "gt", "value": 30}) == {fresh.pk}
    assert members({"field": "score.engagement", "op": "gte", "value": 9.9}) == {fresh.pk, faded.pk}
    assert members({"field": "score.engagement", "op": "lt", "value": 10.1}) == {faded.pk}


def test_total_is_fit_plus_decayed_engagement():
    settings = ScoringSettings.load()
    settings.half_life_days = 10
    settings.save()
    hot, lukewarm = ContactFactory(), ContactFactory()
    score(hot, fit=30, engagement=20, engagement_days_ago=0)  # 50
    score(lukewarm, fit=30, engagement=40, engagement_days_ago=20)  # 40

    assert members({"field": "score.total", "op": "gte", "value": 45}) == {hot.pk}
    assert members({"field": "score.total", "op": "gte", "value": 39.5}) == {hot.pk, lukewarm.pk}


def test_predictive_chance_is_in_percent_and_unknown_never_matches():
    likely, unlikely, unknown = ContactFactory(), ContactFactory(), ContactFactory()
    score(likely, predictive=0.72), score(unlikely, predictive=0.1), score(unknown, predictive=None)

    assert members({"field": "score.predictive", "op": "gte", "value": 60}) == {likely.pk}
    assert members({"field": "score.predictive", "op": "lt", "value": 60}) == {unlikely.pk}


# --- Consent -------------------------------------------------------------------------------------


def purpose(key: str, *, marketing: bool = True) -> Purpose:
    return Purpose.objects.create(
        key=key, name=key.title(), text=f"I agree to {key}.", is_email_marketing=marketing
    )


def answer(
    contact, purpose_: Purpose, granted: bool, *, minutes: int, awaiting: bool = False
) -> Consent:
    return Consent.objects.create(
        contact=contact,
        purpose=purpose_,
        purpose_text=purpose_.current_text,
        granted=granted,
        method="form",
        occurred_at=NOW - dt.timedelta(minutes=minutes),
        awaiting_confirmation=awaiting,
    )


def test_has_consent_reads_the_latest_answer_for_the_purpose():
    newsletter = purpose("newsletter")
    subscribed, withdrew, resubscribed, never = (ContactFactory() for _ in range(4))
    answer(subscribed, newsletter, True, minutes=30)
    answer(withdrew, newsletter, True, minutes=30), answer(withdrew, newsletter, False, minutes=10)
    (
        answer(resubscribed, newsletter, False, minutes=30),
        answer(resubscribed, newsletter, True, minutes=10),
    )

    assert members({"field": "has_consent", "value": "newsletter"}) == {
        subscribed.pk,
        resubscribed.pk,
    }
    assert members({"field": "has_consent", "value": "newsletter", "negate": True}) == {
        withdrew.pk,
        never.pk,
    }


def test_a_grant_awaiting_its_confirmation_is_not_consent_yet():
    newsletter = purpose("newsletter")
    pending, confirmed = ContactFactory(), ContactFactory()
    answer(pending, newsletter, True, minutes=5, awaiting=True)
    (
        answer(confirmed, newsletter, True, minutes=5, awaiting=True),
        answer(confirmed, newsletter, True, minutes=1),
    )

    assert members({"field": "has_consent", "value": "newsletter"}) == {confirmed.pk}


def test_has_consent_without_a_purpose_means_any_marketing_email_purpose():
    newsletter, partners = purpose("newsletter"), purpose("partners", marketing=False)
    marketing, partners_only = ContactFactory(), ContactFactory()
    answer(marketing, newsletter, True, minutes=5)
    answer(partners_only, partners, True, minutes=5)

    assert members({"field": "has_consent", "value": ""}) == {marketing.pk}
    assert members({"field": "has_consent", "value": "partners"}) == {partners_only.pk}


def test_an_unknown_consent_purpose_is_reported():
    purpose("newsletter")
    definition = {"match": "all", "conditions": [{"field": "has_consent", "value": "newsleter"}]}

    assert definition_errors(definition) == ["Condition 1: choose a consent purpose."]
    assert (
        definition_errors(
            {"match": "all", "conditions": [{"field": "has_consent", "value": "newsletter"}]}
        )
        == []
    )


# --- Events --------------------------------------------------------------------------------------


def event(contact, *, type="page_view", days_ago=1, bot=False, **fields):
    return EventFactory(
        contact=contact,
        type=type,
        occurred_at=NOW - dt.timedelta(days=days_ago),
        is_bot=bot,
        **fields,
    )


def test_did_an_event_within_the_last_days_bots_excluded():
    recent, old, bot = ContactFactory(), ContactFactory(), ContactFactory()
    event(recent, type="form_submit", days_ago=3)
    event(old, type="form_submit", days_ago=40)
    event(bot, type="form_submit", days_ago=1, bot=True)

    condition = {"field": "event", "event_type": "form_submit", "within_days": 30}
    assert members(condition) == {recent.pk}
    assert members({"field": "event", "event_type": "form_submit"}) == {recent.pk, old.pk}


def test_did_not_do_an_event():
    visitor, silent = ContactFactory(), ContactFactory()
    event(visitor, url="https://x.example/pricing")

    assert members({"field": "event", "event_type": "page_view", "negate": True}) == {silent.pk}


def test_event_url_and_name_filters():
    pricing, blog, demo = ContactFactory(), ContactFactory(), ContactFactory()
    event(pricing, url="https://x.example/Pricing?plan=pro")
    event(blog, url="https://x.example/blog")
    event(demo, type="form_submit", name="demo-request")

    assert members({"field": "event", "event_type": "page_view", "url_contains": "/pricing"}) == {
        pricing.pk
    }
    assert members({"field": "event", "event_type": "form_submit", "name_contains": "DEMO"}) == {
        demo.pk
    }


def test_at_least_n_times_counts_only_matching_human_events_in_the_period():
    keen, once, mostly_old = ContactFactory(), ContactFactory(), ContactFactory()
    for days in (1, 2, 3):
        event(keen, type="email_click", days_ago=days)
    event(once, type="email_click")
    event(once, type="email_click", bot=True), event(once, type="email_click", bot=True)
    event(mostly_old, type="email_click", days_ago=2)
    (
        event(mostly_old, type="email_click", days_ago=50),
        event(mostly_old, type="email_click", days_ago=60),
    )

    condition = {"field": "event", "event_type": "email_click", "at_least": 3, "within_days": 30}
    assert members(condition) == {keen.pk}
    assert members({**condition, "within_days": None}) == {keen.pk, mostly_old.pk}
    assert members({**condition, "negate": True}) == {once.pk, mostly_old.pk}


def test_event_condition_errors():
    definition = {
        "match": "all",
        "conditions": [
            {"field": "event", "event_type": "dance", "at_least": 0, "within_days": "x"}
        ],
    }

    assert definition_errors(definition) == [
        "Condition 1: choose which kind of event.",
        "Condition 1: “at least” must be a whole number of times, 1 or more.",
        "Condition 1: enter a whole number of days, or leave the period empty.",
    ]


# --- Other segments ------------------------------------------------------------------------------


def test_in_and_not_in_another_dynamic_segment():
    brazil, portugal = (
        ContactFactory(country="BR", temperature="hot"),
        ContactFactory(country="PT", temperature="hot"),
    )
    brazilians = SegmentFactory(conditions=[{"field": "country", "op": "equals", "value": "BR"}])

    hot = {"field": "temperature", "op": "equals", "value": "hot"}
    assert members(hot, {"field": "in_segment", "value": brazilians.pk}) == {brazil.pk}
    assert members(hot, {"field": "not_in_segment", "value": brazilians.pk}) == {portugal.pk}


def test_not_in_a_segment_includes_leads_its_conditions_cannot_decide():
    pro, free, unknown = (
        ContactFactory(custom={"plan": "pro"}),
        ContactFactory(custom={"plan": "free"}),
        ContactFactory(custom={}),
    )
    pro_plan = SegmentFactory(conditions=[{"field": "custom.plan", "op": "equals", "value": "pro"}])

    assert members({"field": "in_segment", "value": pro_plan.pk}) == {pro.pk}
    assert members({"field": "not_in_segment", "value": pro_plan.pk}) == {free.pk, unknown.pk}
    assert members({"field": "in_segment", "value": pro_plan.pk, "negate": True}) == {
        free.pk,
        unknown.pk,
    }


def test_in_a_static_list():
    listed, other = ContactFactory(), ContactFactory()
    vip = StaticSegmentFactory(members=[listed])

    assert members({"field": "in_segment", "value": vip.pk}) == {listed.pk}
    assert members({"field": "not_in_segment", "value": vip.pk}) == {other.pk}


def test_a_cycle_of_segments_is_a_clear_error():
    first = SegmentFactory(
        name="First", conditions=[{"field": "country", "op": "equals", "value": "BR"}]
    )
    second = SegmentFactory(name="Second", conditions=[{"field": "in_segment", "value": first.pk}])
    first.definition = {"match": "all", "conditions": [{"field": "in_segment", "value": second.pk}]}
    first.save()

    with pytest.raises(SegmentDefinitionError) as raised:
        list(segment_contacts(segment=first))

    assert raised.value.messages == [
        "“First” refers back to itself through its segment conditions; remove one of them."
    ]
    assert definition_errors(first.definition, segment_id=first.pk) == raised.value.messages
    assert definition_errors(
        {"match": "all", "conditions": [{"field": "in_segment", "value": 999999}]}
    ) == ["A condition refers to a segment that no longer exists."]
