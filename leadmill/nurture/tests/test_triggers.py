"""What enrols a lead on its own and what makes it leave, through the event bus
(leadmill/nurture/handlers.py, triggers.py)."""

import pytest
from django.utils import timezone

from leadmill.capture.events import LeadCaptured
from leadmill.capture.tests.factories import FormFactory, OfferFactory
from leadmill.consent.services import ConsentProof, marketing_unsubscribe
from leadmill.contacts.models import Contact
from leadmill.contacts.services import contact_stage_change, contact_update
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core import events
from leadmill.messaging.models import Message
from leadmill.segments.services import segment_members_add, segment_members_remove
from leadmill.segments.tests.factories import SegmentFactory, StaticSegmentFactory

from ..models import Enrollment, Sequence
from ..triggers import segment_triggers_check, sequence_segment_watch_start
from .engine_factories import sequence_with, step, subscribed_contact
from .factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(django_capture_on_commit_callbacks):
    """Run what the block publishes through the bus (and the kick it queues), as after commit."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def captured(contact, form, offer=None):
    return LeadCaptured(
        contact_id=contact.pk,
        submission_id=1,
        form_id=form.pk,
        offer_id=offer.pk if offer else None,
        created=True,
        occurred_at=timezone.now(),
    )


def enrolled_sequences(contact, state=Enrollment.State.ACTIVE) -> set[int]:
    return set(
        Enrollment.objects.filter(contact=contact, state=state).values_list(
            "sequence_id", flat=True
        )
    )


def wait_sequence(**fields) -> Sequence:
    return sequence_with(step("wait", days=1), **fields)


def test_a_captured_lead_joins_the_active_sequences_of_its_form_or_offer_only(delivered):
    form, other_form, offer = FormFactory(), FormFactory(), OfferFactory()
    by_form = wait_sequence(trigger=Sequence.Trigger.FORM, trigger_form=form)
    by_offer = wait_sequence(trigger=Sequence.Trigger.OFFER, trigger_offer=offer)
    wait_sequence(trigger=Sequence.Trigger.FORM, trigger_form=other_form)
    wait_sequence(trigger=Sequence.Trigger.FORM, trigger_form=form, is_active=False)
    contact = ContactFactory()

    with delivered():
        events.publish(captured(contact, form, offer))

    assert enrolled_sequences(contact) == {by_form.pk, by_offer.pk}
    assert set(Enrollment.objects.values_list("source", flat=True)) == {"form"}


def test_a_lead_from_a_translation_of_the_form_or_offer_joins_their_sequences(delivered):
    from wagtail.models import Locale

    form, offer = FormFactory(), OfferFactory()
    portuguese, _created = Locale.objects.get_or_create(language_code="pt-br")
    form_pt = form.copy_for_translation(portuguese)
    form_pt.save()
    offer_pt = offer.copy_for_translation(portuguese)
    offer_pt.save()
    by_form = wait_sequence(trigger=Sequence.Trigger.FORM, trigger_form=form)
    by_offer = wait_sequence(trigger=Sequence.Trigger.OFFER, trigger_offer=offer)
    wait_sequence(trigger=Sequence.Trigger.FORM, trigger_form=FormFactory())  # not this one
    contact = ContactFactory()

    with delivered():
        events.publish(captured(contact, form_pt, offer_pt))

    assert enrolled_sequences(contact) == {by_form.pk, by_offer.pk}


def test_a_repeated_delivery_does_not_enrol_twice(delivered):
    form = FormFactory()
    wait_sequence(trigger=Sequence.Trigger.FORM, trigger_form=form)
    contact = ContactFactory()

    with delivered():
        events.publish(captured(contact, form))
        events.publish(captured(contact, form))

    assert Enrollment.objects.filter(contact=contact).count() == 1


def test_the_first_email_leaves_at_once_after_enrolment_through_the_kick(delivered):
    form = FormFactory()
    sequence_with(
        step("send_email", template=EmailTemplateFactory().pk),
        trigger=Sequence.Trigger.FORM,
        trigger_form=form,
    )
    contact = subscribed_contact()

    with delivered():
        events.publish(captured(contact, form))

    assert list(Message.objects.values_list("contact_id", "status")) == [
        (contact.pk, Message.Status.SENT)
    ]


def test_reaching_an_exit_stage_leaves_and_a_trigger_stage_enrols(delivered):
    exits_at_sql = wait_sequence(exit_stages=["sql", "customer"])
    keeps_going = wait_sequence(exit_stages=["customer"])
    for_sql = wait_sequence(trigger=Sequence.Trigger.STAGE, trigger_stage="sql")
    contact = ContactFactory()
    for sequence in (exits_at_sql, keeps_going):
        Enrollment.objects.create(sequence=sequence, contact=contact, enrolled_at=timezone.now())

    with delivered():
        contact_stage_change(contact=contact, to_stage="sql", cause="test")

    assert enrolled_sequences(contact) == {keeps_going.pk, for_sql.pk}
    left = Enrollment.objects.get(sequence=exits_at_sql)
    assert (left.state, left.exit_reason) == (Enrollment.State.EXITED, "reached an exit stage: sql")


def test_entering_a_trigger_segment_enrols_once_and_leaving_and_entering_again_follows_the_policy(
    delivered,
):
    segment = SegmentFactory(conditions=[{"field": "country", "op": "equals", "value": "BR"}])
    sequence = wait_sequence(trigger=Sequence.Trigger.SEGMENT, trigger_segment=segment)
    sequence_segment_watch_start(sequence=sequence)
    contact = ContactFactory(country="PT")

    with delivered():
        contact_update(contact=contact, changes={"country": "BR"})
    assert enrolled_sequences(contact) == {sequence.pk}

    with delivered():
        contact_update(contact=contact, changes={"first_name": "Still in Brazil"})
        contact_update(contact=contact, changes={"country": "PT"})
        contact_update(contact=contact, changes={"country": "BR"})  # entered again: NEVER re-enrols

    assert Enrollment.objects.filter(contact=contact).count() == 1


def test_a_lead_put_on_a_trigger_list_is_enrolled_at_once_through_the_bus(delivered):
    # given a sequence triggered by a static list, and one by a segment built on that list
    vips = StaticSegmentFactory()
    by_list = wait_sequence(trigger=Sequence.Trigger.SEGMENT, trigger_segment=vips)
    on_the_list = SegmentFactory(conditions=[{"field": "in_segment", "value": vips.pk}])
    by_segment = wait_sequence(trigger=Sequence.Trigger.SEGMENT, trigger_segment=on_the_list)
    for sequence in (by_list, by_segment):
        sequence_segment_watch_start(sequence=sequence)
    contact = ContactFactory()

    # when a marketer puts the lead on the list (no sweep runs)
    with delivered():
        segment_members_add(segment=vips, contact_ids=[contact.pk])

    # then both sequences enrolled it
    assert enrolled_sequences(contact) == {by_list.pk, by_segment.pk}
    assert set(Enrollment.objects.values_list("source", flat=True)) == {"segment"}


def test_a_lead_taken_off_a_trigger_list_may_enter_it_again(delivered):
    vips = StaticSegmentFactory()
    sequence = wait_sequence(
        trigger=Sequence.Trigger.SEGMENT,
        trigger_segment=vips,
        reenrol=Sequence.Reenrol.AFTER_EXIT,
    )
    sequence_segment_watch_start(sequence=sequence)
    contact = ContactFactory()
    with delivered():
        segment_members_add(segment=vips, contact_ids=[contact.pk])
    Enrollment.objects.filter(contact=contact).update(
        state=Enrollment.State.EXITED, ended_at=timezone.now()
    )

    with delivered():
        segment_members_remove(segment=vips, contact_ids=[contact.pk])
    with delivered():
        segment_members_add(segment=vips, contact_ids=[contact.pk])

    assert Enrollment.objects.filter(contact=contact).count() == 2
    assert enrolled_sequences(contact) == {sequence.pk}


def test_the_periodic_sweep_enrols_whoever_entered_without_an_event():
    segment = SegmentFactory(conditions=[{"field": "country", "op": "equals", "value": "BR"}])
    sequence = wait_sequence(trigger=Sequence.Trigger.SEGMENT, trigger_segment=segment)
    sequence_segment_watch_start(sequence=sequence)
    inside = Contact.objects.bulk_create(
        [Contact(email=f"b{n}@example.com", country="BR") for n in range(3)]
    )
    Contact.objects.create(email="outside@example.com", country="PT")

    assert segment_triggers_check() == 3
    assert segment_triggers_check() == 0
    assert set(
        Enrollment.objects.filter(sequence=sequence).values_list("contact_id", flat=True)
    ) == {c.pk for c in inside}


def test_unsubscribing_leaves_every_sequence(delivered):
    first, second = wait_sequence(), wait_sequence()
    contact = subscribed_contact()
    for sequence in (first, second):
        Enrollment.objects.create(sequence=sequence, contact=contact, enrolled_at=timezone.now())

    with delivered():
        marketing_unsubscribe(
            contact_id=contact.pk, purpose_ids=None, proof=ConsentProof(method="unsubscribe")
        )

    assert enrolled_sequences(contact) == set()
    assert set(Enrollment.objects.values_list("exit_reason", flat=True)) == {"unsubscribed"}
