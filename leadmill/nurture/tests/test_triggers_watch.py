"""A sequence triggered by a segment enrols leads who enter it after the sequence was
activated, the same for every sequence on that segment; a broken segment stops only its
own sequences; exit stages are checked at enrolment (leadmill/nurture/triggers.py, engine.py)."""

import logging

import pytest

from leadmill.contacts.models import Contact
from leadmill.segments.models import Segment
from leadmill.segments.tests.factories import SegmentFactory

from .. import services
from ..models import Enrollment, Sequence
from ..runner import nurture_pass
from ..triggers import segment_triggers_check, sequence_segment_watch_start
from .engine_factories import sequence_with, step

pytestmark = pytest.mark.django_db

BRAZIL = [{"field": "country", "op": "equals", "value": "BR"}]


def segment_sequence(segment, **fields) -> Sequence:
    return sequence_with(
        step("wait", days=1), trigger=Sequence.Trigger.SEGMENT, trigger_segment=segment, **fields
    )


def brazilians(*names) -> list[Contact]:
    return [Contact.objects.create(email=f"{n}@example.com", country="BR") for n in names]


def enrolled(sequence) -> set[str]:
    return set(
        Enrollment.objects.filter(sequence=sequence).values_list("contact__email", flat=True)
    )


def test_every_sequence_on_a_segment_enrols_only_who_enters_after_its_activation():
    segment = SegmentFactory(conditions=BRAZIL)
    brazilians("before")
    first = segment_sequence(segment)
    sequence_segment_watch_start(sequence=first)
    brazilians("between")
    second = segment_sequence(segment)
    sequence_segment_watch_start(sequence=second)  # the sweep at its activation
    brazilians("after")

    segment_triggers_check()

    assert enrolled(first) == {"between@example.com", "after@example.com"}
    assert enrolled(second) == {"after@example.com"}


def test_a_sequence_the_sweep_meets_before_its_activation_was_recorded_enrols_nobody_inside():
    segment = SegmentFactory(conditions=BRAZIL)
    brazilians("inside")
    sequence = segment_sequence(segment)

    assert segment_triggers_check() == 0  # records who is inside and starts the watch
    brazilians("newcomer")
    assert segment_triggers_check() == 1

    assert enrolled(sequence) == {"newcomer@example.com"}


def test_activating_a_sequence_in_the_editor_starts_its_watch(admin_client):
    from .test_engine_admin import editor_post

    segment = SegmentFactory(conditions=BRAZIL)
    brazilians("inside")
    sequence = segment_sequence(segment, is_active=False)

    response = editor_post(
        admin_client,
        sequence,
        [("end", {"label": ""}, "")],
        trigger="segment",
        trigger_segment=str(segment.pk),
    )
    brazilians("newcomer")
    segment_triggers_check()

    assert response.status_code == 302
    sequence.refresh_from_db()
    assert sequence.segment_watched_since is not None
    assert enrolled(sequence) == {"newcomer@example.com"}


def test_a_segment_referring_to_a_deleted_one_stops_only_its_own_sequences(caplog):
    gone = SegmentFactory(conditions=BRAZIL)
    broken = SegmentFactory(conditions=[{"field": "in_segment", "value": gone.pk}])
    fine = SegmentFactory(conditions=BRAZIL)
    stuck, going = segment_sequence(broken), segment_sequence(fine)
    for sequence in (stuck, going):
        sequence_segment_watch_start(sequence=sequence)
    assert Sequence.objects.filter(segment_watched_since__isnull=False).count() == 2
    Segment.objects.filter(pk=gone.pk).delete()
    brazilians("newcomer")

    with caplog.at_level(logging.ERROR, logger="leadmill.nurture.triggers"):
        report = nurture_pass(send_rounds=0)

    assert report.enrolled == 1
    assert enrolled(going) == {"newcomer@example.com"}
    assert enrolled(stuck) == set()
    assert f"segment {broken.pk} (trigger of sequences [{stuck.pk}])" in caplog.text


def test_a_lead_already_at_an_exit_stage_is_not_enrolled():
    sequence = sequence_with(step("wait", days=1), exit_stages=["customer"])
    customer = Contact.objects.create(email="c@example.com", lifecycle_stage="customer")
    lead = Contact.objects.create(email="l@example.com", lifecycle_stage="lead")

    one = services.enrollment_start(sequence=sequence, contact_id=customer.pk, source="t")
    bulk = services.enrollments_start_bulk(
        sequence=sequence, contact_ids=[customer.pk, lead.pk], source="t"
    )

    assert one is None
    assert bulk == 1
    assert enrolled(sequence) == {"l@example.com"}
