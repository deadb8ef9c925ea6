"""Scoring's subscribers, delivered through the real event bus (outbox → task → handler)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadmill.capture.events import LeadCaptured
from leadmill.capture.models import Submission
from leadmill.capture.tests.factories import FormFactory, OfferFactory
from leadmill.contacts.models import Contact, Temperature
from leadmill.contacts.services import contact_update
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core import events
from leadmill.core.models import OutboxEvent
from leadmill.tracking.events import ContactEventsIngested, VisitorIdentified
from leadmill.tracking.models import Event
from leadmill.tracking.schemas import EventIn
from leadmill.tracking.services import CollectMeta, event_record, events_ingest
from leadmill.tracking.tests.factories import EventFactory, VisitorFactory

from ..models import ContactScore, EngagementRule, FitRule
from ..services import contact_score_refresh

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


BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def engagement_of(contact) -> float:
    return ContactScore.objects.get(contact=contact).engagement_score


def test_an_email_click_recorded_for_a_lead_adds_its_points_and_a_scanners_click_none(
    django_capture_on_commit_callbacks,
):
    contact = ContactFactory()
    EngagementRule.objects.create(name="email click", event_type="email_click", points=5)
    contact_score_refresh(contact_id=contact.pk)

    with django_capture_on_commit_callbacks(execute=True):
        event_record(contact_id=contact.pk, type="email_click", properties={"message_id": 1})
    assert engagement_of(contact) == pytest.approx(5, rel=1e-4)

    with django_capture_on_commit_callbacks(execute=True):
        event_record(contact_id=contact.pk, type="email_click", is_bot=True)

    assert engagement_of(contact) == pytest.approx(5, rel=1e-4)


def ingest(*, visitor_id: str, user_agent: str = BROWSER, count: int = 2) -> None:
    now = dt.datetime.now(dt.UTC)
    events_ingest(
        events=[
            EventIn(
                type="page_view",
                url=f"https://x.example/p{i}",
                occurred_at=now,
                visitor_id=visitor_id,
            )
            for i in range(count)
        ],
        meta=CollectMeta(user_agent=user_agent),
    )


def test_a_batch_of_an_identified_visitor_is_scored_through_one_bus_event(
    django_capture_on_commit_callbacks,
):
    contact = ContactFactory()
    VisitorFactory(id="visitor-0000000000000001", contact=contact)
    EngagementRule.objects.create(name="view", event_type="page_view", points=3)
    contact_score_refresh(contact_id=contact.pk)

    with django_capture_on_commit_callbacks(execute=True):
        ingest(visitor_id="visitor-0000000000000001", count=3)

    published = OutboxEvent.objects.filter(name=ContactEventsIngested.__name__)
    assert published.count() == 1
    assert published.get().payload["event_ids"] == list(
        Event.objects.filter(contact=contact).order_by("pk").values_list("pk", flat=True)
    )
    assert published.get().payload["contact_ids"] == [contact.pk]
    assert engagement_of(contact) == pytest.approx(9, rel=1e-4)


def test_a_batch_of_anonymous_visitors_or_of_a_bot_publishes_nothing(
    django_capture_on_commit_callbacks,
):
    contact = ContactFactory()
    VisitorFactory(id="visitor-0000000000000002", contact=contact)
    EngagementRule.objects.create(name="view", event_type="page_view", points=3)
    contact_score_refresh(contact_id=contact.pk)

    with django_capture_on_commit_callbacks(execute=True):
        ingest(visitor_id="visitor-0000000000000001")
        ingest(visitor_id="visitor-0000000000000002", user_agent=CRAWLER)

    assert Event.objects.count() == 4
    assert Event.objects.filter(contact=contact, is_bot=True).count() == 2
    assert not OutboxEvent.objects.filter(name=ContactEventsIngested.__name__).exists()
    assert engagement_of(contact) == 0


@pytest.mark.parametrize(
    ("user_agent", "engagement"),
    [
        ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", 0),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 0),
        (BROWSER, 5),
    ],
)
def test_a_bots_cta_click_never_raises_a_score_and_a_persons_does(
    django_capture_on_commit_callbacks, user_agent, engagement
):
    contact = ContactFactory()
    VisitorFactory(id="visitor-0000000000000003", contact=contact)
    EngagementRule.objects.create(name="click", event_type="cta_click", points=5)
    contact_score_refresh(contact_id=contact.pk)

    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(
            events=[
                EventIn(
                    type="cta_click",
                    url="https://x.example/",
                    occurred_at=dt.datetime.now(dt.UTC),
                    visitor_id="visitor-0000000000000003",
                )
            ],
            meta=CollectMeta(user_agent=user_agent),
        )

    assert Event.objects.get(contact=contact).is_bot is (engagement == 0)
    assert engagement_of(contact) == pytest.approx(engagement, rel=1e-4)


def test_a_repeated_delivery_of_an_ingest_batch_counts_its_events_once(
    django_capture_on_commit_callbacks,
):
    contact = ContactFactory()
    EngagementRule.objects.create(name="view", event_type="page_view", points=3)
    contact_score_refresh(contact_id=contact.pk)
    batch = [EventFactory(contact=contact), EventFactory(contact=contact)]
    ingested = ContactEventsIngested(
        event_ids=[row.pk for row in batch], contact_ids=[contact.pk], occurred_at=timezone.now()
    )

    for _delivery in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            events.publish(ingested)

    assert engagement_of(contact) == pytest.approx(6, rel=1e-4)


def test_announcing_a_batch_costs_one_outbox_insert_and_anonymous_batches_nothing():
    contact = ContactFactory()
    VisitorFactory(id="visitor-0000000000000001", contact=contact)
    ingest(visitor_id="visitor-0000000000000009")  # warm caches (bot rules)

    with CaptureQueriesContext(connection) as anonymous:
        ingest(visitor_id="visitor-0000000000000002", count=3)
    with CaptureQueriesContext(connection) as identified:
        ingest(visitor_id="visitor-0000000000000001", count=3)

    extra = [query["sql"] for query in identified.captured_queries[len(anonymous) :]]
    assert len(identified) == len(anonymous) + 1
    assert extra[0].startswith('INSERT INTO "core_outboxevent"')
