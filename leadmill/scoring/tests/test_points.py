"""Points given by a person or an automation (a sequence step "add points")."""

import datetime as dt

import pytest
from django.utils import timezone

from leadmill.contacts.models import Contact, LifecycleStage, StageChange
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.models import OutboxEvent

from ..models import ContactScore, FitRule, ScoreAdjustment
from ..recompute import scores_recompute_all
from ..selectors import engagement_now
from ..services import contact_score_refresh, score_points_add

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def test_given_points_raise_the_engagement_at_once_and_are_kept_with_their_reason():
    contact = ContactFactory()
    contact_score_refresh(contact_id=contact.pk)
    OutboxEvent.objects.all().delete()

    score = score_points_add(contact_id=contact.pk, points=12, reason="Booked a webinar")

    assert score.engagement_score == pytest.approx(12, rel=1e-6)
    assert ContactScore.objects.get(contact=contact).engagement_score == pytest.approx(12, rel=1e-6)
    assert list(ScoreAdjustment.objects.values_list("contact_id", "points", "reason")) == [
        (contact.pk, 12, "Booked a webinar")
    ]
    published = OutboxEvent.objects.get(name="ScoreChanged")
    assert published.payload["engagement_score"] == pytest.approx(12, rel=1e-6)


def test_given_points_decay_like_behaviour_and_the_recompute_counts_them_the_same():
    contact = ContactFactory()
    contact_score_refresh(contact_id=contact.pk)
    now = timezone.now()

    incremental = score_points_add(
        contact_id=contact.pk, points=10, reason="step", at=now - 14 * DAY
    )
    stored_incrementally = engagement_now(score=incremental, at=now)
    scores_recompute_all(at=now)

    recomputed = ContactScore.objects.get(contact=contact)
    assert stored_incrementally == pytest.approx(5, rel=1e-4)  # one half-life: half
    assert recomputed.engagement_score == pytest.approx(stored_incrementally, rel=1e-4)


def test_negative_points_lower_the_engagement():
    contact = ContactFactory()
    score_points_add(contact_id=contact.pk, points=8, reason="replied")

    score = score_points_add(contact_id=contact.pk, points=-3, reason="asked for fewer emails")

    assert score.engagement_score == pytest.approx(5, rel=1e-4)


def test_points_for_a_lead_never_scored_are_counted_by_its_first_full_score():
    contact = ContactFactory()

    score = score_points_add(contact_id=contact.pk, points=7, reason="imported hot list")

    assert score.engagement_score == pytest.approx(7, rel=1e-4)


def test_points_that_pass_the_thresholds_make_the_lead_an_mql_with_the_cause():
    contact = ContactFactory(role="CEO")
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=30)
    contact_score_refresh(contact_id=contact.pk)

    score_points_add(contact_id=contact.pk, points=25, reason="sequence step")

    assert Contact.objects.get(pk=contact.pk).lifecycle_stage == LifecycleStage.MQL
    assert StageChange.objects.get(contact=contact, to_stage="mql").cause == (
        "scores: fit 30 ≥ 30, engagement 25 ≥ 20"
    )


def test_points_for_a_contact_that_does_not_exist_store_nothing():
    assert score_points_add(contact_id=999_999, points=5, reason="gone") is None
    assert not ScoreAdjustment.objects.exists()
