"""Nurture performance per sequence, step and broadcast (leadmill/nurture/performance.py):
exact counts of a known set of enrolments, emails and stage changes."""

import datetime as dt

import pytest

from leadmill.contacts.models import StageChange
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.messaging.models import Message

from .. import performance
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

    whole, welcome, case_study = performance.sequence_performance(sequence=sequence, window_days=30)

    #                         enr sent dlv bnc opn clk uns cmp mql sql cust
    assert counts(whole) == (4, 5, 4, 1, 2, 1, 1, 1, 2, 1, 1)
    assert (welcome.key, welcome.label) == (first["id"], "Welcome")
    assert counts(welcome) == (4, 4, 3, 1, 2, 1, 1, 1, 2, 1, 1)
    # c0 was sent the case study after it had become MQL: no conversion after that send
    assert (case_study.key, case_study.label) == (second["id"], "Case study")
    assert counts(case_study) == (2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0)


def test_a_longer_window_counts_the_later_conversion(known_sequence):
    sequence, _first, _second = known_sequence

    whole, *_steps = performance.sequence_performance(sequence=sequence, window_days=45)

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

    row = performance.broadcast_performance(broadcast_id=broadcast.pk, window_days=30)

    assert row.label == "Spring launch"
    assert counts(row) == (4, 3, 2, 1, 2, 1, 0, 0, 1, 1, 0)


# --- Leads captured through the emails' links ------------------------------------------------

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel)"
HOUR = dt.timedelta(hours=1)


def click(message, *, at, visitor="", user_agent=BROWSER):
    from leadmill.messaging.scanners import click_record

    click_record(
        message_pk=message.pk,
        url="https://www.example.com/offer",
        user_agent=user_agent,
        visitor_id=visitor,
        at=at,
    )


def submission(contact, *, at, visitor="", status="accepted"):
    from leadmill.capture.models import Submission

    row = Submission.objects.create(contact=contact, data={}, status=status, visitor_id=visitor)
    Submission.objects.filter(pk=row.pk).update(created_at=at)


def old_lead():
    from leadmill.contacts.models import Contact

    lead = ContactFactory()
    Contact.objects.filter(pk=lead.pk).update(created_at=NOW - 100 * DAY)
    return lead


def new_lead(at):
    from leadmill.contacts.models import Contact

    lead = ContactFactory()
    Contact.objects.filter(pk=lead.pk).update(created_at=at)
    return lead


def captured(row):
    c = row.captured
    return (c.leads, c.new_leads, c.mql, c.sql, c.customer)


@pytest.fixture
def two_broadcasts():
    """Spring and Summer, sent at NOW. Who clicked what and sent which form:

    - r1 clicks Spring and sends a form from that browser; SQL five days later;
    - r2 clicks Spring on its phone, sends the form a day later from another browser;
    - r3 clicks Spring and forwards it: a new lead n1 sends a form from r3's browser
      (the click's), and becomes a customer ten days later;
    - r4 clicks Spring, then Summer two days later, then sends a form: Summer's (last click);
    - r5's Spring click is a mail scanner's; r6 sends its form 40 days after its click;
      r7's form is spam. None of the three is credited."""
    recipients = [old_lead() for _ in range(7)]
    r1, r2, r3, r4, r5, r6, r7 = recipients
    spring = BroadcastFactory(
        name="Spring", segment__members=recipients, status=Broadcast.Status.SENT
    )
    summer = BroadcastFactory(name="Summer", segment__members=[r4], status=Broadcast.Status.SENT)
    sent = {lead: email(lead, broadcast_id=spring.pk) for lead in recipients}
    summer_email = email(r4, broadcast_id=summer.pk)

    click(sent[r1], at=NOW + HOUR, visitor="browser-of-r1-0001")
    submission(r1, at=NOW + 2 * HOUR, visitor="browser-of-r1-0001")
    stage(r1, "sql", NOW + 5 * DAY)

    click(sent[r2], at=NOW + HOUR, visitor="phone-of-r2-00001")
    submission(r2, at=NOW + DAY, visitor="desktop-of-r2-001")

    click(sent[r3], at=NOW + HOUR, visitor="browser-of-r3-0001")
    n1 = new_lead(NOW + 3 * HOUR)
    submission(n1, at=NOW + 3 * HOUR, visitor="browser-of-r3-0001")
    stage(n1, "customer", NOW + 10 * DAY)

    click(sent[r4], at=NOW + HOUR, visitor="browser-of-r4-0001")
    click(summer_email, at=NOW + 2 * DAY, visitor="browser-of-r4-0001")
    submission(r4, at=NOW + 2 * DAY + HOUR, visitor="browser-of-r4-0001")

    click(sent[r5], at=NOW + HOUR, visitor="browser-of-r5-0001", user_agent=SCANNER)
    submission(r5, at=NOW + 2 * HOUR, visitor="browser-of-r5-0001")
    click(sent[r6], at=NOW + HOUR, visitor="browser-of-r6-0001")
    submission(r6, at=NOW + 40 * DAY, visitor="browser-of-r6-0001")
    click(sent[r7], at=NOW + HOUR, visitor="browser-of-r7-0001")
    submission(r7, at=NOW + 2 * HOUR, visitor="browser-of-r7-0001", status="spam")
    return spring, summer


def test_a_broadcast_is_credited_the_leads_its_links_brought_and_their_conversions(
    two_broadcasts,
):
    spring, summer = two_broadcasts

    spring_row = performance.broadcast_performance(broadcast_id=spring.pk, window_days=30)
    summer_row = performance.broadcast_performance(broadcast_id=summer.pk, window_days=30)

    #                     leads new mql sql customer
    assert captured(spring_row) == (3, 1, 2, 2, 1)  # r1, r2, n1 (new)
    assert captured(summer_row) == (1, 0, 0, 0, 0)  # r4: the last click before its form
    assert spring_row.emails.clicked == 6  # r5's scanner click is no click


def test_a_shorter_window_drops_the_late_form_and_the_late_conversion(two_broadcasts):
    spring, _summer = two_broadcasts

    row = performance.broadcast_performance(broadcast_id=spring.pk, window_days=7)

    assert captured(row) == (3, 1, 1, 1, 0)  # n1 became a customer 10 days after its form


def test_a_form_before_the_click_is_not_the_emails(two_broadcasts):
    spring, _summer = two_broadcasts
    from leadmill.capture.models import Submission

    Submission.objects.filter(visitor_id="browser-of-r1-0001").update(created_at=NOW)

    row = performance.broadcast_performance(broadcast_id=spring.pk, window_days=30)

    assert captured(row) == (2, 1, 1, 1, 1)


def test_each_email_step_and_the_whole_sequence_are_credited_their_leads(known_sequence):
    sequence, first, second = known_sequence
    case_study_to_c0 = Message.objects.get(step_id=second["id"], status=Message.Status.SENT)
    c0 = case_study_to_c0.contact
    welcome_to_c0 = Message.objects.get(step_id=first["id"], contact=c0)
    type(c0).objects.filter(pk=c0.pk).update(created_at=NOW - 100 * DAY)
    click(welcome_to_c0, at=NOW + 2 * HOUR, visitor="browser-of-c0-0001")
    newcomer = new_lead(NOW + 5 * HOUR)
    submission(newcomer, at=NOW + 5 * HOUR, visitor="browser-of-c0-0001")  # forwarded
    click(case_study_to_c0, at=NOW + 4 * DAY, visitor="browser-of-c0-0001")
    submission(c0, at=NOW + 4 * DAY + HOUR, visitor="browser-of-c0-0001")
    stage(newcomer, "mql", NOW + 6 * DAY)

    whole, welcome, case_study = performance.sequence_performance(sequence=sequence, window_days=30)

    assert captured(welcome) == (1, 1, 1, 0, 0)
    assert captured(case_study) == (1, 0, 0, 0, 0)  # c0 was MQL before this form
    assert captured(whole) == (2, 1, 1, 0, 0)
