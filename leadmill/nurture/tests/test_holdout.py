"""Holdout groups: a share of a sequence's enrolments held out at random, walked by no step,
and the uplift report comparing them with the nurtured ones (leadmill/nurture/services.py,
leadmill/nurture/selectors.py)."""

import datetime as dt
import random

import pytest

from leadmill.contacts.models import StageChange
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.messaging.models import Message

from .. import engine, selectors, services
from ..models import Enrollment
from .engine_factories import sequence_with, step, subscribed_contact
from .factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Draws:
    """Stands in for the holdout's random source: hands out the given draws in order."""

    def __init__(self, *values: float):
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


def email_sequence(**fields):
    return sequence_with(step("send_email", template=EmailTemplateFactory().pk), **fields)


def test_a_held_out_lead_is_recorded_and_gets_no_step_and_no_email(monkeypatch):
    sequence = email_sequence(holdout_percent=10)
    nurtured_contact, held_contact = subscribed_contact(), subscribed_contact()
    monkeypatch.setattr(services, "_random", Draws(0.50, 0.05))  # 50 % ≥ 10; 5 % < 10

    nurtured = services.enrollment_start(
        sequence=sequence, contact_id=nurtured_contact.pk, source="t", now=NOW
    )
    held = services.enrollment_start(
        sequence=sequence, contact_id=held_contact.pk, source="t", now=NOW
    )
    walked = engine.enrollments_advance(now=NOW + dt.timedelta(days=30))

    assert (nurtured.held_out, held.held_out) == (False, True)
    assert walked == 1
    assert list(Message.objects.values_list("contact_id", flat=True)) == [nurtured_contact.pk]
    held.refresh_from_db()
    assert held.state == Enrollment.State.ACTIVE and held.next_run_at is None
    assert held.step_id == ""
    # Held out once, held out for good: enrolling again is refused, no second draw.
    assert (
        services.enrollment_start(sequence=sequence, contact_id=held_contact.pk, source="t") is None
    )


def test_a_bulk_enrolment_holds_out_by_the_same_draw(monkeypatch):
    sequence = email_sequence(holdout_percent=20)
    contacts = [ContactFactory() for _ in range(4)]
    monkeypatch.setattr(services, "_random", Draws(0.90, 0.19, 0.20, 0.01))

    services.enrollments_start_bulk(
        sequence=sequence, contact_ids=[c.pk for c in contacts], source="t", now=NOW
    )

    held = dict(Enrollment.objects.values_list("contact_id", "held_out"))
    ordered = sorted(c.pk for c in contacts)
    assert [held[pk] for pk in ordered] == [False, True, False, True]
    assert not Enrollment.objects.filter(held_out=True, next_run_at__isnull=False).exists()


def test_without_a_holdout_nobody_is_held_out():
    sequence = email_sequence()
    services.enrollments_start_bulk(
        sequence=sequence, contact_ids=[ContactFactory().pk for _ in range(20)], source="t"
    )
    assert not Enrollment.objects.filter(held_out=True).exists()


def test_a_holdout_share_holds_out_about_that_share(monkeypatch):
    monkeypatch.setattr(services, "_random", random.Random(15))
    sequence = email_sequence(holdout_percent=30)
    services.enrollments_start_bulk(
        sequence=sequence, contact_ids=[ContactFactory().pk for _ in range(400)], source="t"
    )
    held = Enrollment.objects.filter(held_out=True).count()
    assert 90 <= held <= 150  # 120 expected; ±3 standard deviations (9.2)


def stage(contact, to_stage, at):
    StageChange.objects.create(contact=contact, to_stage=to_stage, changed_at=at, cause="test")


def test_the_uplift_report_compares_nurtured_and_held_out_leads_within_the_window():
    sequence = email_sequence(holdout_percent=50)
    nurtured = [ContactFactory() for _ in range(10)]
    held = [ContactFactory() for _ in range(10)]
    for contact in nurtured + held:
        Enrollment.objects.create(
            sequence=sequence,
            contact=contact,
            enrolled_at=NOW,
            held_out=contact in held,
            next_run_at=None,
        )
    # Nurtured: 6 MQLs within 30 days (one of them went straight to SQL), 1 MQL too late;
    # 3 SQLs (one became a customer). Held out: 3 MQLs, 1 SQL, and one MQL before enrolment.
    for contact in nurtured[:5]:
        stage(contact, "mql", NOW + dt.timedelta(days=3))
    stage(nurtured[5], "sql", NOW + dt.timedelta(days=10))
    stage(nurtured[6], "mql", NOW + dt.timedelta(days=31))
    stage(nurtured[0], "sql", NOW + dt.timedelta(days=5))
    stage(nurtured[1], "sql", NOW + dt.timedelta(days=6))
    stage(nurtured[1], "customer", NOW + dt.timedelta(days=20))
    for contact in held[:3]:
        stage(contact, "mql", NOW + dt.timedelta(days=4))
    stage(held[0], "sql", NOW + dt.timedelta(days=8))
    stage(held[9], "mql", NOW - dt.timedelta(days=1))

    rows = {
        row.stage: row for row in selectors.sequence_uplift(sequence_id=sequence.pk, window_days=30)
    }

    assert (rows["mql"].nurtured.exposures, rows["mql"].nurtured.conversions) == (10, 6)
    assert (rows["mql"].held_out.exposures, rows["mql"].held_out.conversions) == (10, 3)
    assert (rows["sql"].nurtured.conversions, rows["sql"].held_out.conversions) == (3, 1)
    assert (rows["customer"].nurtured.conversions, rows["customer"].held_out.conversions) == (1, 0)
    assert rows["mql"].uplift.absolute == pytest.approx(0.3)
    assert rows["mql"].uplift.relative == pytest.approx(1.0)
    assert rows["mql"].uplift.absolute_low < 0.3 < rows["mql"].uplift.absolute_high
    assert rows["customer"].uplift.relative is None  # no held-out customer: no ratio
