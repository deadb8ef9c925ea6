"""Nurture performance per sequence, step and broadcast (leadmill/nurture/selectors.py):
exact counts of a known set of enrolments, emails and stage changes."""

import datetime as dt

import pytest

from leadmill.contacts.models import StageChange
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.messaging.models import Message

from .. import selectors
from ..models import Broadcast, Enrollment
from .engine_factories import sequence_with, step
from .factories import BroadcastFactory, EmailTemplateFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def stage(contact, to_stage, at):
    StageChange.objects.create(contact=contact, to_stage=to_stage, changed_at=at, cause="test")


def email(contact, *, sent_at=NOW, status=Message.Status.SENT, **fields) -> Message:
    return Message.objects.create(
        contact=contact,
        kind=Message.Kind.MARKETING,
        status=status,
        sent_at=sent_at if status == Message.Status.SENT else None,
        **fields,
    )


@pytest.fixture
def known_sequence():
    """Four nurtured leads and two held out; two email steps and a wait.

    Step 1 went to all four: c3's bounced, c0 and c1 opened, c0 clicked, c1 unsubscribed,
    c2 complained. Step 2 went to c0 (sent three days in) and was not sent to c1 (no
    permission). c0 became MQL two days in; c1 SQL after 40 days (outside a 30-day window);
    c2 a customer five days in. A held-out lead became MQL too (not in these rows)."""
    template = EmailTemplateFactory()
    first, wait, second = (
        step("send_email", "Welcome", template=template.pk),
        step("wait", days=3),
        step("send_email", "Case study", template=template.pk),
    )
    sequence = sequence_with(first, wait, second, holdout_percent=30)
    contacts = [ContactFactory() for _ in range(6)]
    enrolments = [
        Enrollment.objects.create(
            sequence=sequence,
            contact=contact,
            enrolled_at=NOW,
            held_out=index >= 4,
            next_run_at=None,
        )
        for index, contact in enumerate(contacts)
    ]
    c0, c1, c2, c3, held, _held2 = contacts

    def at_step(enrolment, step_id, **fields):
        return email(enrolment.contact, enrollment_id=enrolment.pk, step_id=step_id, **fields)

    at_step(enrolments[0], first["id"], opened_at=NOW + DAY, clicked_at=NOW + DAY)
    at_step(enrolments[1], first["id"], opened_at=NOW + DAY, unsubscribed_at=NOW + 2 * DAY)
    at_step(enrolments[2], first["id"], complained_at=NOW + DAY)
    at_step(enrolments[3], first["id"], bounced_at=NOW)
    at_step(enrolments[0], second["id"], sent_at=NOW + 3 * DAY)
    at_step(enrolments[1], second["id"], status=Message.Status.SUPPRESSED)
    # a transactional email of the same lead is not nurture's
    Message.objects.create(
        contact=c0, kind=Message.Kind.TRANSACTIONAL, status=Message.Status.SENT, sent_at=NOW
    )
    stage(c0, "mql", NOW + 2 * DAY)
    stage(c1, "sql", NOW + 40 * DAY)
    stage(c2, "customer", NOW + 5 * DAY)
    stage(held, "mql", NOW + DAY)
    return sequence, first, second


def counts(row):
    e = row.emails
    return (
        row.enrolled,
        e.sent,
        e.delivered,
        e.bounced,
        e.opened,
        e.clicked,
        e.unsubscribed,
        e.complained,
        row.conversions["mql"],
        row.conversions["sql"],
        row.conversions["customer"],
    )


def test_the_sequence_and_each_email_step_count_their_emails_and_conversions(known_sequence):
    sequence, first, second = known_sequence

    whole, welcome, case_study = selectors.sequence_performance(sequence=sequence, window_days=30)

    #                         enr sent dlv bnc opn clk uns cmp mql sql cust
    assert counts(whole) == (4, 5, 4, 1, 2, 1, 1, 1, 2, 1, 1)
    assert (welcome.key, welcome.label) == (first["id"], "Welcome")
    assert counts(welcome) == (4, 4, 3, 1, 2, 1, 1, 1, 2, 1, 1)
    # c0 was sent the case study after it had become MQL: no conversion after that send
    assert (case_study.key, case_study.label) == (second["id"], "Case study")
    assert counts(case_study) == (2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0)


def test_a_longer_window_counts_the_later_conversion(known_sequence):
    sequence, _first, _second = known_sequence

    whole, *_steps = selectors.sequence_performance(sequence=sequence, window_days=45)

    assert (whole.conversions["mql"], whole.conversions["sql"]) == (3, 2)


def test_a_broadcast_counts_its_emails_and_the_conversions_after_its_send():
    leads = [ContactFactory() for _ in range(4)]
    broadcast = BroadcastFactory(
        name="Spring launch", segment__members=leads, status=Broadcast.Status.SENT
    )
    email(leads[0], broadcast_id=broadcast.pk, opened_at=NOW + DAY, clicked_at=NOW + DAY)
    email(leads[1], broadcast_id=broadcast.pk, bounced_at=NOW)
    email(leads[2], broadcast_id=broadcast.pk, opened_at=NOW + DAY)
    email(leads[3], broadcast_id=broadcast.pk, status=Message.Status.SUPPRESSED)
    stage(leads[0], "sql", NOW + 3 * DAY)
    stage(leads[2], "mql", NOW - DAY)  # before the send: not the broadcast's

    row = selectors.broadcast_performance(broadcast_id=broadcast.pk, window_days=30)

    assert row.label == "Spring launch"
    assert counts(row) == (4, 3, 2, 1, 2, 1, 0, 0, 1, 1, 0)
