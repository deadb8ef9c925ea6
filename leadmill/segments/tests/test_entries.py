"""Who just entered a segment: ``segment_entries_detect`` keeps SegmentEntry rows in line with
the segment, set-based (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadmill.contacts.models import Contact
from leadmill.contacts.tests.factories import ContactFactory

from ..models import SegmentEntry
from ..services import segment_entries_detect
from .factories import SegmentFactory, StaticSegmentFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
BRAZIL = [{"field": "country", "op": "equals", "value": "BR"}]


def entries(segment) -> dict[int, dt.datetime]:
    return dict(
        SegmentEntry.objects.filter(segment=segment).values_list("contact_id", "entered_at")
    )


def test_the_first_sweep_enters_every_member_and_the_next_one_nobody():
    first, second = ContactFactory(country="BR"), ContactFactory(country="BR")
    ContactFactory(country="PT")
    segment = SegmentFactory(conditions=BRAZIL)

    entered = segment_entries_detect(segment=segment, now=NOW)
    again = segment_entries_detect(segment=segment, now=NOW + dt.timedelta(minutes=1))

    assert entered == sorted([first.pk, second.pk])
    assert again == []
    assert entries(segment) == {first.pk: NOW, second.pk: NOW}


def test_leaving_deletes_the_entry_so_coming_back_enters_again():
    traveller = ContactFactory(country="BR")
    segment = SegmentFactory(conditions=BRAZIL)
    segment_entries_detect(segment=segment, now=NOW)

    Contact.objects.filter(pk=traveller.pk).update(country="PT")
    left = segment_entries_detect(segment=segment, now=NOW + dt.timedelta(hours=1))
    entries_after_leaving = entries(segment)
    Contact.objects.filter(pk=traveller.pk).update(country="BR")
    back = segment_entries_detect(segment=segment, now=NOW + dt.timedelta(hours=2))

    assert left == []
    assert entries_after_leaving == {}
    assert back == [traveller.pk]
    assert entries(segment) == {traveller.pk: NOW + dt.timedelta(hours=2)}


def test_given_contacts_only_those_are_entered_or_removed():
    changed, untouched = ContactFactory(country="BR"), ContactFactory(country="BR")
    leaver = ContactFactory(country="BR")
    segment = SegmentFactory(conditions=BRAZIL)
    SegmentEntry.objects.create(segment=segment, contact=leaver, entered_at=NOW)
    Contact.objects.filter(pk=leaver.pk).update(country="PT")
    stale = ContactFactory(country="PT")
    SegmentEntry.objects.create(
        segment=segment, contact=stale, entered_at=NOW
    )  # not in the batch: kept

    entered = segment_entries_detect(segment=segment, contact_ids=[changed.pk, leaver.pk], now=NOW)

    assert entered == [changed.pk]
    assert set(entries(segment)) == {changed.pk, stale.pk}
    assert untouched.pk not in entries(segment)


def test_entries_of_one_segment_do_not_touch_another():
    member = ContactFactory(country="BR")
    brazil, other = SegmentFactory(conditions=BRAZIL), SegmentFactory(conditions=BRAZIL)
    SegmentEntry.objects.create(segment=other, contact=member, entered_at=NOW)

    assert segment_entries_detect(segment=brazil, now=NOW) == [member.pk]
    assert entries(other) == {member.pk: NOW}


def test_a_static_list_enters_contacts_when_they_are_added():
    first, second = ContactFactory(), ContactFactory()
    segment = StaticSegmentFactory(members=[first])

    assert segment_entries_detect(segment=segment, now=NOW) == [first.pk]
    segment.members.create(contact=second)
    assert segment_entries_detect(segment=segment, now=NOW) == [second.pk]


def test_the_sweep_is_set_based_whatever_the_number_of_contacts():
    for _ in range(30):
        ContactFactory(country="BR")
    segment = SegmentFactory(conditions=BRAZIL)

    with CaptureQueriesContext(connection) as queries:
        entered = segment_entries_detect(segment=segment, now=NOW)

    assert len(entered) == 30
    statements = [
        q["sql"]
        for q in queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))
    ]
    assert len(statements) == 2  # one DELETE of leavers, one INSERT … SELECT of newcomers
