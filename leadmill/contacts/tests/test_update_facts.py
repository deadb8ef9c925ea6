"""The facts an edit of a contact publishes besides ContactUpdated: a temperature set by
hand or by a sequence step, an outcome recorded, also when a merge brings it
(leadmill/contacts/services.py)."""

import datetime as dt
from decimal import Decimal

import pytest

from leadmill.core.models import OutboxEvent

from ..models import Temperature
from ..services import contact_merge, contact_update
from .factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db


def published(name: str) -> list[dict]:
    return list(
        OutboxEvent.objects.filter(name=name).order_by("pk").values_list("payload", flat=True)
    )


def test_a_temperature_set_by_a_person_publishes_temperature_changed_with_who_set_it():
    contact = ContactFactory(temperature=Temperature.COLD)
    OutboxEvent.objects.all().delete()

    contact_update(
        contact=contact, changes={"temperature": Temperature.HOT}, actor=UserFactory(username="ana")
    )
    contact_update(contact=contact, changes={"temperature": Temperature.HOT})  # no change: nothing

    (changed,) = published("TemperatureChanged")
    assert {
        key: changed[key] for key in ("contact_id", "from_temperature", "to_temperature", "cause")
    } == {
        "contact_id": contact.pk,
        "from_temperature": "cold",
        "to_temperature": "hot",
        "cause": "set by ana",
    }


def test_a_temperature_set_without_a_person_says_so():
    contact = ContactFactory(temperature=Temperature.COLD)

    contact_update(contact=contact, changes={"temperature": Temperature.WARM})

    assert [p["cause"] for p in published("TemperatureChanged")] == [
        "set by a sequence step or an import"
    ]


def test_an_outcome_written_by_an_edit_publishes_outcome_recorded_and_clearing_it_does_not():
    contact = ContactFactory()
    lost_at = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)

    contact_update(
        contact=contact,
        changes={
            "outcome": "lost",
            "outcome_at": lost_at,
            "outcome_reason": "budget",
            "outcome_value": Decimal("900.50"),
        },
    )
    contact_update(contact=contact, changes={"outcome": "", "outcome_at": None})

    (recorded,) = published("OutcomeRecorded")
    assert {
        key: recorded[key] for key in ("contact_id", "outcome", "value", "outcome_at", "reason")
    } == {
        "contact_id": contact.pk,
        "outcome": "lost",
        "value": "900.50",
        "outcome_at": {"__dt__": lost_at.isoformat()},
        "reason": "budget",
    }


def test_an_edit_cannot_change_the_owner_which_is_sales_decision_and_fact():
    contact = ContactFactory()
    ana = UserFactory(username="ana")

    for changes in ({"owner": ana}, {"owner_id": ana.pk}):
        with pytest.raises(ValueError, match="lead_owner_set"):
            contact_update(contact=contact, changes=changes)

    contact.refresh_from_db()
    assert contact.owner is None
    assert published("ContactUpdated") == []


def test_a_merge_that_gives_the_survivor_the_others_outcome_publishes_it_for_the_survivor():
    won_at = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    survivor = ContactFactory()
    other = ContactFactory(outcome="won", outcome_value=Decimal("1200.00"), outcome_at=won_at)
    OutboxEvent.objects.all().delete()

    contact_merge(survivor=survivor, other=other)

    assert [
        {key: p[key] for key in ("contact_id", "outcome", "value", "outcome_at")}
        for p in published("OutcomeRecorded")
    ] == [
        {
            "contact_id": survivor.pk,
            "outcome": "won",
            "value": "1200.00",
            "outcome_at": {"__dt__": won_at.isoformat()},
        }
    ]


def test_a_merge_that_keeps_the_survivors_own_outcome_publishes_no_outcome():
    survivor = ContactFactory(outcome="lost", outcome_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
    other = ContactFactory(outcome="won", outcome_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    OutboxEvent.objects.all().delete()

    contact_merge(survivor=survivor, other=other)

    assert published("OutcomeRecorded") == []
    assert survivor.outcome == "lost"
