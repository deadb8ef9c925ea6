"""Scoring's subscribers, delivered through the real event bus (outbox → task → handler)."""

import pytest
from django.utils import timezone

from leadmill.capture.events import LeadCaptured
from leadmill.capture.models import Submission
from leadmill.capture.tests.factories import FormFactory, OfferFactory
from leadmill.contacts.models import Contact, Temperature
from leadmill.contacts.services import contact_update
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core import events
from leadmill.tracking.events import VisitorIdentified
from leadmill.tracking.tests.factories import EventFactory

from ..models import ContactScore, EngagementRule, FitRule

pytestmark = pytest.mark.django_db


def test_a_captured_lead_with_an_intent_offer_is_scored_and_hot_once_delivered(
    django_capture_on_commit_callbacks,
):
    contact = ContactFactory(role="CEO")
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=12)
    form = FormFactory(offer=OfferFactory(is_intent_signal=True))
    submission = Submission.objects.create(form=form, status="accepted", data={}, contact=contact)
    captured = LeadCaptured(
        contact_id=contact.pk,
        submission_id=submission.pk,
        form_id=form.pk,
        offer_id=form.offer_id,
        created=True,
        occurred_at=timezone.now(),
    )

    for _delivery in range(2):  # at least once: a second delivery changes nothing
        with django_capture_on_commit_callbacks(execute=True):
            events.publish(captured)

    assert ContactScore.objects.get(contact=contact).fit_score == 12
    assert Contact.objects.get(pk=contact.pk).temperature == Temperature.HOT


def test_an_identified_visitors_earlier_events_count_for_the_lead(
    django_capture_on_commit_callbacks,
):
    contact = ContactFactory()
    EngagementRule.objects.create(name="view", event_type="page_view", points=4)
    EventFactory(contact=contact)
    EventFactory(contact=contact)

    with django_capture_on_commit_callbacks(execute=True):
        events.publish(
            VisitorIdentified(
                visitor_id="v1",
                contact_id=contact.pk,
                events_attached=2,
                occurred_at=timezone.now(),
            )
        )

    assert ContactScore.objects.get(contact=contact).engagement_score == pytest.approx(8, rel=1e-6)


def test_editing_a_fit_field_rescores_the_lead_and_other_edits_do_not(
    django_capture_on_commit_callbacks,
):
    contact = ContactFactory(role="intern")
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=30)

    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=contact, changes={"first_name": "Ana"})
    assert not ContactScore.objects.filter(contact=contact).exists()

    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=contact, changes={"role": "CEO"})
    assert ContactScore.objects.get(contact=contact).fit_score == 30
