"""The set-based services a batch handler calls: many contacts' stages or owners at once."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadmill.core.errors import ValidationFailed
from leadmill.core.models import OutboxEvent

from ..models import Contact, LifecycleStage, StageChange
from ..services import ContactDetails, contacts_owner_set, contacts_stage_change, contacts_upsert
from .factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db


def facts(name: str) -> list[dict]:
    return list(
        OutboxEvent.objects.filter(name=name).order_by("pk").values_list("payload", flat=True)
    )


def all_facts() -> list[tuple[str, dict]]:
    return list(OutboxEvent.objects.order_by("pk").values_list("name", "payload"))


def test_stage_change_of_many_contacts_writes_each_history_row_and_fact():
    # given three leads and a customer
    first, second, third = ContactFactory.create_batch(3)
    customer = ContactFactory(lifecycle_stage=LifecycleStage.CUSTOMER)
    OutboxEvent.objects.all().delete()
    at = timezone.now() - dt.timedelta(minutes=5)

    # when two become MQL, one is disqualified and the customer is "moved" to where it is
    changes = contacts_stage_change(
        moves={
            second.pk: (LifecycleStage.MQL, "scores: fit 10 ≥ 0"),
            first.pk: (LifecycleStage.MQL, "scores: fit 20 ≥ 0"),
            third.pk: (LifecycleStage.DISQUALIFIED, "by hand"),
            customer.pk: (LifecycleStage.CUSTOMER, "again"),
        },
        at=at,
    )

    # then each moved contact has its stage, its history row and its fact; the customer none
    assert [(c.contact_id, c.from_stage, c.to_stage) for c in changes] == [
        (first.pk, "lead", "mql"),
        (second.pk, "lead", "mql"),
        (third.pk, "lead", "disqualified"),
    ]
    stages = dict(Contact.objects.values_list("pk", "lifecycle_stage"))
    assert stages == {
        first.pk: "mql",
        second.pk: "mql",
        third.pk: "disqualified",
        customer.pk: "customer",
    }
    assert Contact.objects.get(pk=first.pk).stage_changed_at == at
    assert list(
        StageChange.objects.filter(changed_at=at)
        .order_by("contact_id")
        .values_list("contact_id", "cause")
    ) == [
        (first.pk, "scores: fit 20 ≥ 0"),
        (second.pk, "scores: fit 10 ≥ 0"),
        (third.pk, "by hand"),
    ]
    assert [(f["contact_id"], f["from_stage"], f["to_stage"]) for f in facts("StageChanged")] == [
        (first.pk, "lead", "mql"),
        (second.pk, "lead", "mql"),
        (third.pk, "lead", "disqualified"),
    ]
    assert not StageChange.objects.filter(contact=customer, cause="again").exists()


def test_stage_change_of_many_contacts_costs_the_same_statements_for_ten_as_for_two():
    two, ten = ContactFactory.create_batch(2), ContactFactory.create_batch(10)

    def statements(contacts) -> int:
        with CaptureQueriesContext(connection) as queries:
            contacts_stage_change(moves={c.pk: (LifecycleStage.MQL, "scores") for c in contacts})
        return len(queries)

    assert statements(ten) == statements(two)


def test_stage_change_refuses_an_unknown_stage_before_writing_anything():
    contact = ContactFactory()

    with pytest.raises(ValueError, match="unknown lifecycle stage"):
        contacts_stage_change(moves={contact.pk: ("promoted", "no such stage")})

    assert Contact.objects.get(pk=contact.pk).lifecycle_stage == LifecycleStage.LEAD


def test_owner_set_of_many_contacts_publishes_contact_updated_only_for_those_that_changed():
    # given two reps, a lead already owned by the first and two without an owner
    ana, bea = UserFactory(), UserFactory()
    owned, free, other = ContactFactory(owner=ana), ContactFactory(), ContactFactory()
    OutboxEvent.objects.all().delete()

    # when the batch gives the first rep all three... and the second the third
    changed = contacts_owner_set(owners={owned.pk: ana.pk, free.pk: ana.pk, other.pk: bea.pk})

    # then only the two that changed are written and announced
    assert changed == {free.pk, other.pk}
    assert dict(Contact.objects.values_list("pk", "owner_id")) == {
        owned.pk: ana.pk,
        free.pk: ana.pk,
        other.pk: bea.pk,
    }
    assert [(f["contact_id"], f["fields"]) for f in facts("ContactUpdated")] == [
        (free.pk, ["owner"]),
        (other.pk, ["owner"]),
    ]


def test_owner_set_can_take_the_owner_away():
    contact = ContactFactory(owner=UserFactory())

    assert contacts_owner_set(owners={contact.pk: None}) == {contact.pk}

    assert Contact.objects.get(pk=contact.pk).owner_id is None


def test_upsert_of_many_leads_applies_them_in_order_as_one_after_the_other():
    # given a known contact with a phone
    known = ContactFactory(email="bo@gmail.com", phone="+5511912345678", first_name="Bo")
    OutboxEvent.objects.all().delete()

    # when a batch brings a new lead, the same person again with more, the known one with a
    # new name, a malformed email and a phone-only lead with the known phone
    results = contacts_upsert(
        details=[
            ContactDetails(email="Ana@Example.com", profile={"first_name": "Ana"}, cause="a"),
            ContactDetails(email="ana@example.com", profile={"role": "CTO"}, cause="b"),
            ContactDetails(email="bo@gmail.com", profile={"first_name": "Bob"}, cause="c"),
            ContactDetails(email="not an email", cause="d"),
            ContactDetails(phone="+55 11 91234-5678", profile={"last_name": "Silva"}, cause="e"),
        ]
    )

    # then the first created Ana and the second updated her; the known contact took both
    # the new name and (found by phone) the last name; the malformed one is refused alone
    ana = Contact.objects.get(email="ana@example.com")
    assert [getattr(r, "created", None) for r in results] == [True, False, False, None, False]
    assert [r.contact.pk for r in results if not isinstance(r, ValidationFailed)] == [
        ana.pk,
        ana.pk,
        known.pk,
        known.pk,
    ]
    assert isinstance(results[3], ValidationFailed)
    assert (ana.first_name, ana.role) == ("Ana", "CTO")
    known.refresh_from_db()
    assert (known.first_name, known.last_name) == ("Bob", "Silva")
    assert list(StageChange.objects.filter(contact=ana).values_list("to_stage", "cause")) == [
        (LifecycleStage.LEAD, "a")
    ]
    assert [(name, f["contact_id"]) for name, f in all_facts()] == [
        ("ContactCreated", ana.pk),
        ("ContactUpdated", ana.pk),
        ("ContactUpdated", known.pk),
        ("ContactUpdated", known.pk),
    ]
    assert [f["fields"] for name, f in all_facts() if name == "ContactUpdated"] == [
        ["role"],
        ["first_name"],
        ["last_name"],
    ]


def test_upsert_of_many_new_leads_costs_the_same_statements_for_twenty_as_for_two():
    def statements(prefix: str, n: int) -> int:
        details = [
            ContactDetails(email=f"{prefix}{i}@corp{i % 3}.example.com", cause="form:x")
            for i in range(n)
        ]
        with CaptureQueriesContext(connection) as queries:
            contacts_upsert(details=details)
        return len(queries)

    statements("warm", 3)  # the three companies exist from here on

    assert statements("twenty", 20) == statements("two", 2)
    assert Contact.objects.filter(email__startswith="twenty").count() == 20
