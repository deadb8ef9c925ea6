"""Why a lead is hot, as sales reads it on "My leads" (the leadmill_sales_lead_reasons hook)."""

import datetime as dt

import pytest
from wagtail import hooks

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.tracking.tests.factories import EventFactory

from ..models import EngagementRule, FitRule, ScoreAdjustment
from ..reasons import lead_score_reasons
from ..recompute import scores_recompute_all
from ..wagtail_hooks import sales_lead_reasons

pytestmark = pytest.mark.django_db

T = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)


def test_the_reasons_name_intent_top_behaviours_given_points_and_the_scores():
    contact = ContactFactory(role="CEO")
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=30)
    EngagementRule.objects.create(
        name="Pricing page",
        event_type="page_view",
        url_contains="/pricing",
        points=10,
        is_intent_signal=True,
    )
    EngagementRule.objects.create(
        name="Blog reading",
        event_type="page_view",
        url_contains="/blog",
        points=1,
        cap_points=3,
        cap_days=30,
    )
    EngagementRule.objects.create(name="Downloads", event_type="download", points=5)
    for _ in range(2):
        EventFactory(contact=contact, url="https://x.example/pricing", occurred_at=T - 14 * DAY)
    for minute in range(5):
        EventFactory(
            contact=contact,
            url="https://x.example/blog/a",
            occurred_at=T - HOUR + dt.timedelta(minutes=minute),
        )
    EventFactory(contact=contact, url="https://x.example/pricing", occurred_at=T, is_bot=True)
    ScoreAdjustment.objects.create(
        contact=contact, points=8, reason="Webinar attended", occurred_at=T - 2 * DAY
    )
    scores_recompute_all(at=T)

    reasons = lead_score_reasons(contact=contact, at=T)

    assert reasons == [
        "Strong buying intent on 2026-02-24.",
        "Pricing page: 2× in the last 42 days, +10 points now.",
        "Blog reading: 5× in the last 42 days, +3 points now.",
        "+8 points on 2026-03-08: Webinar attended",
        "Fit 30, engagement 20.",
    ]


def test_a_lead_never_scored_has_no_reasons():
    assert lead_score_reasons(contact=ContactFactory()) == []


def test_scoring_registers_its_reasons_on_the_sales_hook():
    contact = ContactFactory()
    scores_recompute_all()

    assert sales_lead_reasons in hooks.get_hooks("leadmill_sales_lead_reasons")
    assert sales_lead_reasons(contact) == ["Fit 0, engagement 0."]
