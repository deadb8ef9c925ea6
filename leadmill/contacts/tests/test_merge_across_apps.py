"""contact_merge through the personal-data registry: a row in every app that declares one."""

import datetime as dt

import pytest
from django.utils import timezone

from leadmill.analytics.models import JourneyChange, LeadRow, LeadShare
from leadmill.api.models import IdempotentRequest
from leadmill.capture.models import EventReminder, Offer, Submission
from leadmill.capture.tests.factories import FormFactory, OfferFactory
from leadmill.consent.models import Consent
from leadmill.consent.tests.factories import PurposeFactory
from leadmill.core import personal_data
from leadmill.messaging.models import Message
from leadmill.nurture.models import Broadcast, Enrollment
from leadmill.nurture.tests.factories import (
    EmailTemplateFactory,
    EnrollmentFactory,
    MessageFactory,
    SequenceFactory,
)
from leadmill.sales.models import Activity, OwnerNotification, SalesLead
from leadmill.sales.tests.factories import SalesLeadFactory
from leadmill.scoring.models import ContactScore, ScoreAdjustment
from leadmill.segments.models import SegmentEntry, SegmentMember
from leadmill.segments.tests.factories import SegmentFactory, StaticSegmentFactory
from leadmill.tracking.models import Event, Visitor
from leadmill.tracking.tests.factories import EventFactory, VisitorFactory

from ..models import ContactMerge, PossibleDuplicate, StageChange
from ..services import contact_merge
from .factories import ContactFactory, PossibleDuplicateFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def pks(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def test_merge_moves_every_declared_row_to_the_survivor_and_resolves_unique_conflicts_as_declared():
    # Given two contacts, and for the merged one a row in every app that declares rows
    survivor, other = ContactFactory(), ContactFactory()
    third, fourth = ContactFactory(), ContactFactory()
    now = timezone.now()

    # contacts: stage history, an earlier merge into `other`, possible-duplicate pairs
    other_stage = StageChange.objects.get(contact=other)
    earlier_merge = ContactMerge.objects.create(
        survivor=other, merged_contact_id=-1, merged_data={}
    )
    the_pair = PossibleDuplicateFactory(contact=survivor, other=other)
    pair_with_third = PossibleDuplicateFactory(contact=other, other=third)
    PossibleDuplicateFactory(contact=survivor, other=fourth)
    pair_twin = PossibleDuplicateFactory(contact=fourth, other=other)
    # consent, capture, tracking
    consent = Consent.objects.create(
        contact=other,
        purpose=PurposeFactory(),
        granted=True,
        method=Consent.Method.FORM,
        occurred_at=T0,
    )
    submission = Submission.objects.create(
        form=FormFactory(), data={"email": other.email}, contact=other
    )
    visitor = VisitorFactory(contact=other)
    event = EventFactory(contact=other, visitor=visitor)
    # capture: one reminder per (event, contact, hours): the survivor's twin stays
    webinar = OfferFactory(kind=Offer.Kind.EVENT, starts_at=now)
    survivor_reminder = EventReminder.objects.create(
        event=webinar, contact=survivor, hours_before=24, claim="0" * 32
    )
    EventReminder.objects.create(event=webinar, contact=other, hours_before=24, claim="1" * 32)
    own_reminder = EventReminder.objects.create(
        event=webinar, contact=other, hours_before=1, claim="1" * 32
    )
    # scoring: one score row per contact (both have one), and an adjustment
    ContactScore.objects.create(contact=survivor, fit_score=10, engagement_at=now, updated_at=now)
    ContactScore.objects.create(contact=other, fit_score=40, engagement_at=now, updated_at=now)
    adjustment = ScoreAdjustment.objects.create(contact=other, points=5, occurred_at=now)
    # sales: one sales lead per contact (both have one), and an activity
    survivor_lead = SalesLeadFactory(contact=survivor)
    SalesLeadFactory(contact=other)
    activity = Activity.objects.create(contact=other, kind="call", occurred_at=now)
    notification = OwnerNotification.objects.create(
        contact=other, enrollment_id=1, step_id="notify", requested_at=now
    )
    # nurture: one active enrolment per sequence, one message per broadcast, one membership
    # and one entry per segment; each with a twin the survivor has and a row it has not
    shared_sequence, own_sequence = SequenceFactory(), SequenceFactory()
    survivor_enrolment = EnrollmentFactory(contact=survivor, sequence=shared_sequence)
    EnrollmentFactory(contact=other, sequence=shared_sequence)
    finished_enrolment = EnrollmentFactory(
        contact=other, sequence=shared_sequence, state=Enrollment.State.COMPLETED, next_run_at=None
    )
    own_enrolment = EnrollmentFactory(contact=other, sequence=own_sequence)
    template = EmailTemplateFactory()
    broadcast = Broadcast.objects.create(name="Launch", template=template, segment=SegmentFactory())
    survivor_copy = MessageFactory(contact=survivor, template=template, broadcast_id=broadcast.pk)
    MessageFactory(contact=other, template=template, broadcast_id=broadcast.pk)
    sequence_message = MessageFactory(
        contact=other, template=template, enrollment_id=own_enrolment.pk
    )
    shared_list, own_list = (
        StaticSegmentFactory(members=[survivor, other]),
        StaticSegmentFactory(members=[other]),
    )
    shared_trigger, own_trigger = SegmentFactory(), SegmentFactory()
    for segment, contact in (
        (shared_trigger, survivor),
        (shared_trigger, other),
        (own_trigger, other),
    ):
        SegmentEntry.objects.create(segment=segment, contact=contact, entered_at=now)
    replayable = IdempotentRequest.objects.create(
        key_hash="0" * 64,
        idempotency_key="retry-1",
        request_hash="1" * 64,
        created_at=now,
        response_body=b'{"lead": {}}',
        contact_id=other.pk,
    )
    # analytics: the leads' stored rows and shares, a note for the fill
    for contact in (survivor, other):
        LeadRow.objects.create(day=T0.date(), contact_id=contact.pk, metric="leads")
        LeadShare.objects.create(
            contact_id=contact.pk,
            created_at=T0,
            source="google",
            last_touch=1.0,
            linear=1.0,
            u_shaped=1.0,
            time_decay=1.0,
        )
    note = JourneyChange.objects.create(contact_id=other.pk)
    other_id = other.pk

    # When they are merged
    contact_merge(survivor=survivor, other=other)

    # Then no declared row points at the merged contact any more, in any app
    for declaration in personal_data.declarations():
        model = declaration.model
        for link in declaration.merge_links:
            column = model._meta.get_field(link.field).attname
            assert not model._base_manager.filter(**{column: other_id}).exists(), (
                declaration.label,
                link,
            )
    # and each row moved, or gave way to the survivor's twin, as its app declared
    assert pks(StageChange.objects.filter(contact=survivor)) >= {other_stage.pk}
    assert pks(ContactMerge.objects.filter(survivor=survivor)) >= {earlier_merge.pk}
    the_pair.refresh_from_db()
    assert the_pair.resolution == PossibleDuplicate.Resolution.MERGED
    assert PossibleDuplicate.objects.get(pk=pair_with_third.pk).contact_id == survivor.pk
    assert not PossibleDuplicate.objects.filter(pk=pair_twin.pk).exists()
    assert (
        Consent.objects.get(pk=consent.pk).contact_id,
        Submission.objects.get(pk=submission.pk).contact_id,
    ) == (
        survivor.pk,
        survivor.pk,
    )
    assert (
        Visitor.objects.get(pk=visitor.pk).contact_id,
        Event.objects.get(pk=event.pk).contact_id,
    ) == (
        survivor.pk,
        survivor.pk,
    )
    assert set(EventReminder.objects.values_list("pk", "contact_id")) == {
        (survivor_reminder.pk, survivor.pk),
        (own_reminder.pk, survivor.pk),
    }
    assert list(ContactScore.objects.values_list("contact_id", "fit_score")) == [(survivor.pk, 10)]
    assert ScoreAdjustment.objects.get(pk=adjustment.pk).contact_id == survivor.pk
    assert pks(SalesLead.objects.all()) == {survivor_lead.pk}
    assert Activity.objects.get(pk=activity.pk).contact_id == survivor.pk
    assert OwnerNotification.objects.get(pk=notification.pk).contact_id == survivor.pk
    assert pks(Enrollment.objects.filter(contact=survivor)) == {
        survivor_enrolment.pk,
        finished_enrolment.pk,
        own_enrolment.pk,
    }
    assert Enrollment.objects.count() == 3
    assert pks(Message.objects.all()) == {survivor_copy.pk, sequence_message.pk}
    assert set(Message.objects.values_list("contact_id", flat=True)) == {survivor.pk}
    assert set(SegmentMember.objects.values_list("segment_id", "contact_id")) == {
        (shared_list.pk, survivor.pk),
        (own_list.pk, survivor.pk),
    }
    assert set(SegmentEntry.objects.values_list("segment_id", "contact_id")) == {
        (shared_trigger.pk, survivor.pk),
        (own_trigger.pk, survivor.pk),
    }
    assert IdempotentRequest.objects.get(pk=replayable.pk).contact_id == survivor.pk
    # the merged lead's stored rows and shares go, its day and the survivor noted for the fill
    assert set(LeadRow.objects.values_list("contact_id", flat=True)) == {survivor.pk}
    assert set(LeadShare.objects.values_list("contact_id", flat=True)) == {survivor.pk}
    assert JourneyChange.objects.get(pk=note.pk).contact_id == survivor.pk
    assert set(JourneyChange.objects.values_list("contact_id", "day")) == {
        (survivor.pk, None),
        (None, T0.date()),
    }


def test_this_merge_test_covers_every_model_that_declares_rows_to_move():
    # A model registered later fails here until the test above gives it rows to move.
    covered = {
        StageChange,
        ContactMerge,
        PossibleDuplicate,
        Consent,
        Submission,
        EventReminder,
        Visitor,
        Event,
        ContactScore,
        ScoreAdjustment,
        SalesLead,
        Activity,
        OwnerNotification,
        Enrollment,
        Message,
        SegmentMember,
        SegmentEntry,
        IdempotentRequest,
        LeadRow,
        LeadShare,
        JourneyChange,
    }

    declared = {d.model for d in personal_data.declarations() if d.merge_links}

    assert declared == covered
