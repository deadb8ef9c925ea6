"""Reads of tracking: events, touches, the timeline and attribution of a contact."""

import datetime as dt

import pytest

from leadmill.contacts.models import Contact, StageChange
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.registry import contact_timeline

from ..selectors import contact_attribution, contact_events, contact_touches, contacts_touches
from .factories import EventFactory

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
T0 = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def journey():
    """A contact who came from Instagram, came back from Google, became a lead by a form,
    then an MQL after a newsletter click; a bot view and internal navigation on the way."""
    contact = ContactFactory(stage_history=False)
    touch = dict(contact=contact, type="page_view")
    events = {
        "instagram": EventFactory(
            **touch,
            occurred_at=T0,
            channel="social",
            source="instagram",
            medium="social",
            campaign="june",
            url="https://leads.example.com/offer",
        ),
        "internal": EventFactory(
            **touch,
            occurred_at=T0 + dt.timedelta(minutes=1),
            channel="internal",
            url="https://leads.example.com/pricing",
        ),
        "google": EventFactory(
            **touch,
            occurred_at=T0 + 7 * DAY,
            channel="organic_search",
            source="google",
            medium="organic",
            url="https://leads.example.com/offer",
        ),
        "bot": EventFactory(**touch, occurred_at=T0 + 7 * DAY, channel="direct", is_bot=True),
        "form": EventFactory(
            contact=contact,
            type="form_submit",
            name="ebook",
            occurred_at=T0 + 7 * DAY + dt.timedelta(minutes=2),
        ),
        "email": EventFactory(
            **touch, occurred_at=T0 + 14 * DAY, channel="email", source="newsletter", medium="email"
        ),
    }
    StageChange.objects.create(
        contact=contact,
        from_stage="",
        to_stage="lead",
        changed_at=T0 + 7 * DAY + dt.timedelta(minutes=2),
        cause="form:ebook",
    )
    StageChange.objects.create(
        contact=contact, from_stage="lead", to_stage="mql", changed_at=T0 + 14 * DAY, cause="score"
    )
    return contact, events


def test_contact_events_are_newest_first_without_bots(journey):
    contact, events = journey

    assert list(contact_events(contact_id=contact.pk)) == [
        events["email"],
        events["form"],
        events["google"],
        events["internal"],
        events["instagram"],
    ]
    assert events["bot"] in contact_events(contact_id=contact.pk, include_bots=True)
    assert list(contact_events(contact_id=contact.pk, types=["form_submit"])) == [events["form"]]


def test_contact_touches_are_sourced_page_views_oldest_first(journey):
    contact, events = journey

    touches = contact_touches(contact_id=contact.pk)

    assert [(t.event_id, t.channel, t.source) for t in touches] == [
        (events["instagram"].pk, "social", "instagram"),
        (events["google"].pk, "organic_search", "google"),
        (events["email"].pk, "email", "newsletter"),
    ]
    assert [t.event_id for t in contact_touches(contact_id=contact.pk, until=T0 + 7 * DAY)] == [
        events["instagram"].pk,
        events["google"].pk,
    ]


def test_many_contacts_touches_up_to_their_creation_in_one_query(
    journey, django_assert_num_queries
):
    contact, events = journey
    Contact.objects.filter(pk=contact.pk).update(created_at=T0 + 7 * DAY + dt.timedelta(minutes=2))
    other = ContactFactory(stage_history=False)

    with django_assert_num_queries(1):
        every = contacts_touches(contact_ids=[contact.pk, other.pk])
    before = contacts_touches(contact_ids=[contact.pk], until_created=True)

    assert every == {contact.pk: contact_touches(contact_id=contact.pk)}  # none: missing
    assert [t.event_id for t in before[contact.pk]] == [
        events["instagram"].pk,
        events["google"].pk,
    ]


def test_attribution_per_stage_reached(journey, django_assert_num_queries):
    contact, events = journey

    with django_assert_num_queries(2):
        stages = contact_attribution(contact_id=contact.pk)

    assert [(s.stage, s.converted_at) for s in stages] == [
        ("lead", T0 + 7 * DAY + dt.timedelta(minutes=2)),
        ("mql", T0 + 14 * DAY),
    ]
    lead, mql = stages
    assert [t.source for t in lead.touches] == ["instagram", "google"]
    assert [c.weight for c in lead.credits["first_touch"]] == [1.0, 0.0]
    assert [c.weight for c in lead.credits["last_touch"]] == [0.0, 1.0]
    assert [c.weight for c in lead.credits["u_shaped"]] == [0.5, 0.5]
    assert [c.weight for c in mql.credits["linear"]] == pytest.approx([1 / 3] * 3, abs=1e-12)
    assert [c.weight for c in mql.credits["u_shaped"]] == pytest.approx([0.4, 0.2, 0.4], abs=1e-12)
    # ages 14 d, 7 d, 0 d with a 7-day half-life: 1/4, 1/2, 1 → 1/7, 2/7, 4/7
    assert [c.weight for c in mql.credits["time_decay"]] == pytest.approx(
        [1 / 7, 2 / 7, 4 / 7], abs=1e-12
    )


def test_attribution_uses_the_first_time_a_stage_was_reached(journey):
    contact, _ = journey
    StageChange.objects.create(
        contact=contact,
        from_stage="mql",
        to_stage="lead",
        changed_at=T0 + 20 * DAY,
        cause="demoted",
    )

    assert [s.stage for s in contact_attribution(contact_id=contact.pk)] == ["lead", "mql"]
    assert contact_attribution(contact_id=contact.pk)[
        0
    ].converted_at == T0 + 7 * DAY + dt.timedelta(minutes=2)


def test_a_contact_without_stage_changes_has_no_attribution():
    assert contact_attribution(contact_id=ContactFactory(stage_history=False).pk) == []


def test_the_timeline_shows_page_views_and_form_events_with_their_source(journey):
    contact, events = journey

    entries = [
        (e.kind, e.title, e.detail) for e in contact_timeline(contact.pk) if e.kind != "stage"
    ]

    assert ("form_submit", "Sent the form ebook", "") in entries
    assert (
        "page_view",
        "Viewed https://leads.example.com/offer",
        "Social · instagram / social · june",
    ) in entries
    assert ("page_view", "Viewed https://leads.example.com/pricing", "") in entries
    assert len([e for e in entries if e[0] in {"page_view", "form_submit"}]) == 5  # no bot
