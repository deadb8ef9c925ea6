"""The periodic tick, the ``nurture_run`` command and the lead's timeline part
(leadmill/nurture/tasks.py, runner.py, selectors.py)."""

import datetime as dt
import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from leadmill.core.registry import contact_timeline
from leadmill.messaging.models import Message
from leadmill.segments.tests.factories import SegmentFactory, StaticSegmentFactory

from .. import tasks
from ..models import Broadcast, Enrollment
from ..triggers import sequence_segment_watch_start
from .engine_factories import sequence_with, step, subscribed_contact
from .factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db


def test_the_tick_enrols_segment_newcomers_advances_starts_broadcasts_and_sends(mailoutbox):
    segment = SegmentFactory(conditions=[{"field": "country", "op": "equals", "value": "BR"}])
    sequence = sequence_with(
        step("send_email", template=EmailTemplateFactory(subject="Olá").pk),
        trigger="segment",
        trigger_segment=segment,
    )
    sequence_segment_watch_start(sequence=sequence)  # activated: watches who enters from now
    newcomer = subscribed_contact(country="BR", email="bia@example.com")
    reader = subscribed_contact(email="reader@example.com")
    Broadcast.objects.create(
        name="News",
        template=EmailTemplateFactory(subject="News"),
        segment=StaticSegmentFactory(members=[reader]),
        status="scheduled",
        send_at=timezone.now() - dt.timedelta(minutes=1),
    )

    tasks.nurture_tick()

    assert sorted((m.to[0], m.subject) for m in mailoutbox) == [
        ("bia@example.com", "Olá"),
        ("reader@example.com", "News"),
    ]
    assert Enrollment.objects.get(contact=newcomer).state == Enrollment.State.COMPLETED
    assert Broadcast.objects.get().status == Broadcast.Status.SENT


def test_the_nurture_run_command_works_until_idle(mailoutbox):
    sequence = sequence_with(
        step("send_email", template=EmailTemplateFactory().pk),
        step("send_email", template=EmailTemplateFactory().pk),
    )
    contact = subscribed_contact()
    Enrollment.objects.create(
        sequence=sequence, contact=contact, enrolled_at=timezone.now(), next_run_at=timezone.now()
    )

    call_command("nurture_run", "--until-idle", verbosity=0)

    assert len(mailoutbox) == 2
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.SENT}


def test_the_leads_timeline_shows_enrolment_its_end_and_the_emails_sent():
    sequence = sequence_with(
        step(
            "send_email",
            template=EmailTemplateFactory(name="Welcome", subject="Hi {{ first_name }}").pk,
        ),
        name="Onboarding",
    )
    contact = subscribed_contact(first_name="Ana")
    Enrollment.objects.create(
        sequence=sequence,
        contact=contact,
        enrolled_at=timezone.now(),
        next_run_at=timezone.now(),
        source="form",
    )

    call_command("nurture_run", "--until-idle", verbosity=0)

    entries = [
        (entry.title, entry.detail)
        for entry in contact_timeline(contact.pk)
        if entry.kind in ("sequence", "email_sent")
    ]
    assert entries == [  # newest first: the email leaves after the walk completed
        # the subject as Ana got it, not its template code; the template's name beside it
        ("Marketing email sent: “Hi Ana”", "Welcome"),
        ("Completed the sequence “Onboarding”", "reached the last step"),
        ("Enrolled in the sequence “Onboarding”", "Form submitted"),
    ]


def test_the_leads_timeline_shows_a_transactional_email_as_such_in_the_readers_language():
    # Given a lead who was sent their download link (a transactional email, not marketing)
    from django.utils import translation

    from leadmill.messaging.services import email_send_transactional

    contact = subscribed_contact()
    email_send_transactional(
        to=contact.email,
        subject="Your copy of the playbook",
        html="<p>Here it is</p>",
        category="offer delivery",
        contact_id=contact.pk,
    )

    # When a reader of Portuguese looks at the lead's timeline
    with translation.override("pt-br"):
        sent = [
            (str(entry.title), str(entry.detail))
            for entry in contact_timeline(contact.pk)
            if entry.kind == "email_sent"
        ]

    # Then it is an email sent, not a marketing email, and says what it was
    assert sent == [("E-mail enviado: “Your copy of the playbook”", "entrega da oferta")]


def test_a_tick_while_another_holds_the_lock_does_nothing_and_a_dead_holders_lock_expires(
    mailoutbox,
):
    sequence = sequence_with(step("send_email", template=EmailTemplateFactory().pk))
    Enrollment.objects.create(
        sequence=sequence,
        contact=subscribed_contact(),
        enrolled_at=timezone.now(),
        next_run_at=timezone.now(),
    )

    with tasks.TICK_LOCK.hold() as held:
        assert held
        tasks.nurture_tick()
        assert mailoutbox == []
        with tasks.TICK_LOCK.hold() as second:
            assert not second

    cache.set("leadmill.lock.nurture.tick", "a killed worker", timeout=1)
    time.sleep(2.1)  # the database cache counts whole seconds
    tasks.nurture_tick()
    assert len(mailoutbox) == 1


def _due_enrollment() -> Enrollment:
    sequence = sequence_with(step("send_email", template=EmailTemplateFactory().pk))
    return Enrollment.objects.create(
        sequence=sequence,
        contact=subscribed_contact(),
        enrolled_at=timezone.now(),
        next_run_at=timezone.now(),
    )


def test_the_tick_leaves_the_due_steps_to_a_running_kick_and_walks_them_when_none_runs(
    mailoutbox,
):
    # Given a step due, and a kick running (it walks the due steps itself)
    enrollment = _due_enrollment()
    with tasks.KICK_LOCK.hold() as kick:
        assert kick

        # When the minute's tick comes
        tasks.nurture_tick()

        # Then it leaves the step to the kick: no second thread walks the same queue
        assert not Message.objects.filter(contact=enrollment.contact).exists()
        assert mailoutbox == []

    # and with no kick running, the tick walks it (and lets go of the kick's lock at once)
    tasks.nurture_tick()
    assert Message.objects.filter(contact=enrollment.contact).count() == 1
    assert len(mailoutbox) == 1
    with tasks.KICK_LOCK.hold() as free:
        assert free


def test_one_sender_at_a_time_a_pass_leaves_the_queue_to_the_one_sending(mailoutbox):
    # Given an email queued by a step, and messaging's minute sender at work
    from leadmill.messaging.tasks import SEND_LOCK

    from ..runner import nurture_pass

    _due_enrollment()
    with SEND_LOCK.hold() as sending:
        assert sending

        # When a nurture pass runs beside it
        report = nurture_pass(send_rounds=1)

        # Then it walks the step but leaves the queue to the sender
        assert report.advanced == 1
        assert report.sent == 0 and mailoutbox == []
        assert Message.objects.filter(status=Message.Status.QUEUED).count() == 1

    # and once nobody sends, a pass sends it
    assert nurture_pass(send_rounds=1).sent == 1
    assert len(mailoutbox) == 1
