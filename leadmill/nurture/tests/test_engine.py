"""The sequence engine: enrolment rules, walking steps, waits, branches, exits (leadmill/nurture/engine.py)."""

import datetime as dt
from unittest import mock

import pytest

from leadmill.consent.tests.factories import SuppressionFactory, consent_give
from leadmill.contacts.models import LifecycleStage, StageChange
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.messaging.models import Message
from leadmill.scoring.models import ScoreAdjustment
from leadmill.segments.tests.factories import StaticSegmentFactory
from leadmill.tracking.models import Event

from .. import engine, services, walker
from ..models import Enrollment, Sequence
from .engine_factories import sequence_with, step, subscribed_contact
from .factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


def email_step(label="", template=None):
    return step("send_email", label, template=(template or EmailTemplateFactory()).pk)


def enrol(sequence, contact, at=NOW):
    return services.enrollment_start(
        sequence=sequence, contact_id=contact.pk, source="test", now=at
    )


# --- Enrolment ------------------------------------------------------------------------------


def test_a_contact_is_enrolled_once_and_its_first_step_is_due_at_once():
    sequence, contact = sequence_with(email_step()), ContactFactory()

    enrollment = enrol(sequence, contact)
    again = enrol(sequence, contact)

    assert enrollment.state == Enrollment.State.ACTIVE
    assert enrollment.next_run_at == NOW
    assert enrollment.step_id == ""
    assert again is None
    assert Enrollment.objects.count() == 1


def test_never_policy_refuses_a_second_enrolment_after_the_first_ended():
    sequence, contact = (
        sequence_with(email_step(), reenrol=Sequence.Reenrol.NEVER),
        ContactFactory(),
    )
    enrol(sequence, contact)
    services.enrollment_exit(contact_id=contact.pk, reason="test", now=NOW)

    assert enrol(sequence, contact) is None
    assert (
        services.enrollments_start_bulk(sequence=sequence, contact_ids=[contact.pk], source="test")
        == 0
    )


def test_after_exit_policy_enrols_again_once_the_previous_enrolment_ended():
    sequence, contact = (
        sequence_with(email_step(), reenrol=Sequence.Reenrol.AFTER_EXIT),
        ContactFactory(),
    )
    enrol(sequence, contact)

    assert enrol(sequence, contact) is None
    services.enrollment_exit(contact_id=contact.pk, reason="test", now=NOW)
    assert enrol(sequence, contact) is not None
    assert Enrollment.objects.filter(contact=contact).count() == 2


def test_bulk_enrolment_skips_enrolled_and_unknown_contacts():
    sequence = sequence_with(email_step())
    enrolled, fresh_a, fresh_b = ContactFactory(), ContactFactory(), ContactFactory()
    enrol(sequence, enrolled)

    count = services.enrollments_start_bulk(
        sequence=sequence,
        contact_ids=[enrolled.pk, fresh_a.pk, fresh_b.pk, fresh_b.pk, 999_999],
        source="import",
        now=NOW,
    )

    assert count == 2
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {
        enrolled.pk,
        fresh_a.pk,
        fresh_b.pk,
    }
    assert set(Enrollment.objects.filter(source="import").values_list("contact_id", flat=True)) == {
        fresh_a.pk,
        fresh_b.pk,
    }


# --- Walking: send, wait, end ------------------------------------------------------------


def test_a_send_wait_send_sequence_queues_email_one_waits_two_days_then_queues_email_two():
    first, second = EmailTemplateFactory(), EmailTemplateFactory()
    steps = [email_step("one", first), step("wait", days=2), email_step("two", second)]
    sequence, contact = sequence_with(*steps), subscribed_contact()
    enrollment = enrol(sequence, contact)

    assert engine.enrollments_advance(now=NOW) == 1
    enrollment.refresh_from_db()
    assert list(Message.objects.values_list("template_id", "step_id", "enrollment_id")) == [
        (first.pk, steps[0]["id"], enrollment.pk)
    ]
    assert enrollment.step_id == steps[1]["id"]
    assert enrollment.next_run_at == NOW + dt.timedelta(days=2)

    assert engine.enrollments_advance(now=NOW + dt.timedelta(days=1)) == 0
    assert Message.objects.count() == 1

    assert engine.enrollments_advance(now=NOW + dt.timedelta(days=2)) == 1
    enrollment.refresh_from_db()
    assert Message.objects.filter(template=second, step_id=steps[2]["id"]).count() == 1
    assert enrollment.state == Enrollment.State.COMPLETED
    assert enrollment.exit_reason == "reached the last step"
    assert enrollment.next_run_at is None


def test_an_inactive_sequence_pauses_its_enrollments():
    sequence, contact = sequence_with(email_step()), subscribed_contact()
    enrol(sequence, contact)
    Sequence.objects.filter(pk=sequence.pk).update(is_active=False)

    assert engine.enrollments_advance(now=NOW) == 0
    assert Message.objects.count() == 0


def test_an_end_step_completes_before_the_steps_after_it():
    sequence, contact = sequence_with(step("end"), email_step()), subscribed_contact()
    enrollment = enrol(sequence, contact)

    engine.enrollments_advance(now=NOW)

    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.COMPLETED
    assert Message.objects.count() == 0


def test_a_wait_ends_on_an_allowed_weekday_inside_the_window_in_the_contacts_time_zone():
    # Monday 09:00 UTC + 1 day = Tuesday 06:00 in São Paulo (UTC-3); Thursdays 10:00-12:00 only.
    wait = step("wait", days=1, weekdays=["3"], window_start="10:00:00", window_end="12:00:00")
    sequence = sequence_with(wait, email_step())
    contact = subscribed_contact(time_zone="America/Sao_Paulo")
    enrollment = enrol(sequence, contact)

    engine.enrollments_advance(now=NOW)

    enrollment.refresh_from_db()
    assert enrollment.next_run_at == dt.datetime(
        2026, 3, 5, 13, 0, tzinfo=dt.UTC
    )  # Thursday 10:00 -03:00


def test_an_unknown_time_zone_falls_back_to_the_sites(settings):
    settings.TIME_ZONE = "UTC"
    wait = step("wait", hours=1, window_start="14:00:00")
    sequence, contact = (
        sequence_with(wait, email_step()),
        subscribed_contact(time_zone="Mars/Olympus"),
    )
    enrollment = enrol(sequence, contact)

    engine.enrollments_advance(now=NOW)

    enrollment.refresh_from_db()
    assert enrollment.next_run_at == dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


# --- Branches -------------------------------------------------------------------------------


@pytest.mark.parametrize("opened, reminders", [(True, 0), (False, 1)])
def test_an_opened_branch_skips_the_reminder_only_when_email_one_was_opened(opened, reminders):
    steps = [
        email_step("email 1"),
        step("wait", days=2),
        step("branch", condition="opened", step_label="email 1", then_go_to="done"),
        email_step("reminder"),
        step("end", "done"),
    ]
    sequence, contact = sequence_with(*steps), subscribed_contact()
    enrol(sequence, contact)
    engine.enrollments_advance(now=NOW)
    if opened:
        Message.objects.update(opened_at=NOW + dt.timedelta(hours=1))

    engine.enrollments_advance(now=NOW + dt.timedelta(days=2))

    assert Message.objects.filter(step_id=steps[3]["id"]).count() == reminders
    assert Enrollment.objects.get().state == Enrollment.State.COMPLETED


def test_a_visited_branch_counts_human_page_views_since_enrolment_only():
    steps = [
        step("branch", condition="visited", value="/pricing", then_go_to="hot"),
        step("end"),
        step("update", "hot", field="temperature", value="hot"),
    ]
    sequence = sequence_with(*steps)
    human, bot_only = subscribed_contact(), subscribed_contact()
    Event.objects.create(
        contact=human, type="page_view", url="https://x.test/pricing", occurred_at=NOW
    )
    Event.objects.create(
        contact=bot_only,
        type="page_view",
        url="https://x.test/pricing",
        occurred_at=NOW,
        is_bot=True,
    )
    enrol(sequence, human, at=NOW - dt.timedelta(minutes=1))
    enrol(sequence, bot_only, at=NOW - dt.timedelta(minutes=1))

    engine.enrollments_advance(now=NOW)

    human.refresh_from_db()
    bot_only.refresh_from_db()
    assert (human.temperature, bot_only.temperature) == ("hot", "cold")


def test_an_in_segment_branch_asks_the_segment():
    member, outsider = subscribed_contact(), subscribed_contact()
    segment = StaticSegmentFactory(members=[member])
    steps = [
        step("branch", condition="in_segment", segment=segment.pk, else_go_to="out"),
        email_step(),
        step("end", "out"),
    ]
    sequence = sequence_with(*steps)
    enrol(sequence, member)
    enrol(sequence, outsider)

    engine.enrollments_advance(now=NOW)

    assert list(Message.objects.values_list("contact_id", flat=True)) == [member.pk]


# --- Update, permission, failures -------------------------------------------------------------


def test_an_update_step_moves_the_stage_with_the_sequence_as_cause():
    sequence = sequence_with(step("update", field="lifecycle_stage", value="mql"), name="Warm-up")
    contact = subscribed_contact()
    enrol(sequence, contact)

    engine.enrollments_advance(now=NOW)

    contact.refresh_from_db()
    assert contact.lifecycle_stage == LifecycleStage.MQL
    assert (
        StageChange.objects.filter(contact=contact, to_stage="mql").get().cause
        == "sequence “Warm-up”"
    )


def test_a_contact_without_consent_leaves_at_the_send_step_and_nothing_is_queued():
    sequence, contact = sequence_with(email_step()), ContactFactory()
    enrollment = enrol(sequence, contact)

    engine.enrollments_advance(now=NOW)

    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.exit_reason) == (
        Enrollment.State.EXITED,
        "unsubscribed or no marketing consent",
    )
    assert Message.objects.count() == 0


def test_a_suppressed_address_leaves_at_the_send_step():
    sequence, contact = sequence_with(email_step()), subscribed_contact(email="bounced@example.com")
    SuppressionFactory(email="bounced@example.com")
    enrollment = enrol(sequence, contact)

    engine.enrollments_advance(now=NOW)

    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.EXITED
    assert Message.objects.count() == 0


def test_a_consent_awaiting_confirmation_holds_the_send_step_for_an_hour():
    sequence, contact = sequence_with(email_step()), ContactFactory()
    consent_give(contact, awaiting=True)
    enrollment = enrol(sequence, contact)

    engine.enrollments_advance(now=NOW)

    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.ACTIVE
    assert enrollment.next_run_at == NOW + dt.timedelta(hours=1)
    assert Message.objects.count() == 0


def test_a_failing_step_is_retried_later_and_does_not_hold_up_the_others():
    broken = sequence_with(step("update", field="lifecycle_stage", value="no-such-stage"))
    fine = sequence_with(email_step())
    stuck, other = subscribed_contact(), subscribed_contact()
    stuck_enrollment = enrol(broken, stuck)
    enrol(fine, other)

    assert engine.enrollments_advance(now=NOW) == 2

    stuck_enrollment.refresh_from_db()
    assert stuck_enrollment.state == Enrollment.State.ACTIVE
    assert stuck_enrollment.next_run_at == NOW + walker.ERROR_RETRY
    assert list(Message.objects.values_list("contact_id", flat=True)) == [other.pk]


def test_a_crash_while_queueing_rolls_the_whole_batch_back():
    sequence, contact = sequence_with(email_step(), step("wait", days=1)), subscribed_contact()
    enrollment = enrol(sequence, contact)

    with (
        mock.patch(
            "leadmill.messaging.services.messages_queue_bulk", side_effect=RuntimeError("killed")
        ),
        pytest.raises(RuntimeError),
    ):
        engine.enrollments_advance(now=NOW)

    enrollment.refresh_from_db()
    assert (enrollment.step_id, enrollment.next_run_at) == ("", NOW)
    assert Message.objects.count() == 0


# --- Editing a sequence ---------------------------------------------------------------------


def test_enrollments_at_a_removed_step_continue_at_the_next_step_that_still_exists():
    steps = [email_step(), step("wait", days=1), email_step(), email_step()]
    sequence, contact = sequence_with(*steps), subscribed_contact()
    enrollment = enrol(sequence, contact)
    engine.enrollments_advance(now=NOW)  # waiting at steps[1]
    old_ids = [s["id"] for s in steps]

    sequence.steps = [steps[0], steps[3]]  # the wait and the second email are removed
    sequence.save()
    moved = services.enrollments_remap(sequence=sequence, old_step_ids=old_ids, now=NOW)

    enrollment.refresh_from_db()
    assert moved == 1
    assert enrollment.step_id == steps[3]["id"]
    assert enrollment.next_run_at == NOW + dt.timedelta(days=1)  # its due time is kept


def test_an_enrollment_at_a_step_that_vanished_completes():
    sequence, contact = sequence_with(email_step()), subscribed_contact()
    enrollment = enrol(sequence, contact)
    Enrollment.objects.filter(pk=enrollment.pk).update(step_id="gone")

    engine.enrollments_advance(now=NOW)

    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.exit_reason) == (
        Enrollment.State.COMPLETED,
        "its step was removed from the sequence",
    )


def test_an_add_points_step_adds_them_once_with_its_reason():
    sequence = sequence_with(
        step("add_points", points=15, reason="finished onboarding"), step("wait", days=1)
    )
    contact = subscribed_contact()
    enrol(sequence, contact)

    engine.enrollments_advance(now=NOW)
    engine.enrollments_advance(now=NOW + dt.timedelta(hours=1))

    adjustments = ScoreAdjustment.objects.filter(contact=contact)
    assert list(adjustments.values_list("points", "reason")) == [(15, "finished onboarding")]


def test_a_branch_looping_back_without_a_wait_sends_once_and_the_lead_leaves():
    steps = [
        email_step("again"),
        step("branch", condition="stage", value="customer", else_go_to="again"),
    ]
    sequence, contact = sequence_with(*steps), subscribed_contact()
    enrollment = enrol(sequence, contact)

    engine.enrollments_advance(now=NOW)

    enrollment.refresh_from_db()
    assert Message.objects.count() == 1
    assert (enrollment.state, enrollment.exit_reason) == (
        Enrollment.State.EXITED,
        "the sequence loops without a wait",
    )


def test_a_loop_through_a_wait_sends_a_reminder_each_time_round_until_the_lead_clicks():
    steps = [
        email_step("reminder"),
        step("wait", "pause", days=3),
        step("branch", condition="clicked", step_label="reminder", else_go_to="reminder"),
    ]
    sequence, contact = sequence_with(*steps), subscribed_contact()
    enrollment = enrol(sequence, contact)

    engine.enrollments_advance(now=NOW)
    engine.enrollments_advance(now=NOW + dt.timedelta(days=3))
    engine.enrollments_advance(now=NOW + dt.timedelta(days=6))

    assert Message.objects.count() == 3
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.step_id) == (Enrollment.State.ACTIVE, steps[1]["id"])
    assert enrollment.next_run_at == NOW + dt.timedelta(days=9)


def test_leaving_a_sequence_cancels_its_emails_not_sent_yet():
    sequence, contact = sequence_with(email_step()), subscribed_contact()
    enrol(sequence, contact)
    engine.enrollments_advance(now=NOW)
    other = Message.objects.create(
        contact=contact, template=EmailTemplateFactory()
    )  # a broadcast's, say

    assert (
        services.enrollment_exit(contact_id=contact.pk, reason="became a customer", now=NOW) == 0
    )  # completed

    enrollment = enrol(sequence, ContactFactory())
    Message.objects.create(
        contact_id=enrollment.contact_id, template=other.template, enrollment_id=enrollment.pk
    )
    assert (
        services.enrollment_exit(
            contact_id=enrollment.contact_id, reason="became a customer", now=NOW
        )
        == 1
    )
    assert dict(Message.objects.values_list("enrollment_id", "status")) == {
        Enrollment.objects.get(contact=contact).pk: Message.Status.QUEUED,
        None: Message.Status.QUEUED,
        enrollment.pk: Message.Status.SUPPRESSED,
    }


def test_a_step_failing_outside_the_database_is_retried_later_without_a_savepoint():
    # Given a sequence of emails only (walked without a savepoint per lead) whose send step
    # fails for one lead
    sequence = sequence_with(email_step(), step("wait", days=1))
    stuck, other = subscribed_contact(), subscribed_contact()
    stuck_enrollment, other_enrollment = enrol(sequence, stuck), enrol(sequence, other)
    original = walker.Walker._send_email

    def failing_for_stuck(self, step_, index, enrollment, contact):
        if contact.pk == stuck.pk:
            raise RuntimeError("boom")
        return original(self, step_, index, enrollment, contact)

    # When the batch runs
    with mock.patch.object(walker.Walker, "_send_email", failing_for_stuck):
        assert engine.enrollments_advance(now=NOW) == 2

    # Then the failing lead waits for a retry with nothing queued, the other got its email
    stuck_enrollment.refresh_from_db()
    other_enrollment.refresh_from_db()
    assert (stuck_enrollment.step_id, stuck_enrollment.next_run_at) == (
        "",
        NOW + walker.ERROR_RETRY,
    )
    assert other_enrollment.next_run_at == NOW + dt.timedelta(days=1)
    assert list(Message.objects.values_list("contact_id", flat=True)) == [other.pk]
