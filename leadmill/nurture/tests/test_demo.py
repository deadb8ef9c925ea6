"""The demo's nurture flow: seeded once, and a lead from the e-book form is enrolled."""

import pytest

from leadmill.capture.demo import demo_seed
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.messaging.models import EmailTemplate
from leadmill.segments.definitions import definition_errors
from leadmill.segments.models import Segment
from leadmill.segments.selectors import segment_count

from ..demo import SEQUENCE_NAME, nurture_demo_seed
from ..models import Sequence
from ..services import enrollment_start

pytestmark = pytest.mark.django_db


def test_the_demo_nurture_is_seeded_once_and_is_valid():
    # Given the demo's pages and forms
    demo_seed()

    # When the nurture demo is seeded twice
    assert nurture_demo_seed() is True
    assert nurture_demo_seed() is False

    # Then there is one active sequence on the e-book form with its two emails, and a segment
    [sequence] = Sequence.objects.all()
    assert (sequence.name, sequence.is_active, sequence.trigger, sequence.trigger_form.slug) == (
        SEQUENCE_NAME,
        True,
        Sequence.Trigger.FORM,
        "ebook",
    )
    assert [block.block_type for block in sequence.steps] == [
        "send_email",
        "wait",
        "branch",
        "send_email",
        "end",
    ]
    Sequence._meta.get_field("steps").stream_block.clean(sequence.steps)  # what the editor checks
    # The two emails, and their Brazilian Portuguese translations (ADR 43).
    assert sorted(
        EmailTemplate.objects.filter(purpose__key="email-marketing").values_list(
            "locale__language_code", "name"
        )
    ) == [
        ("en", "E-book follow-up 1: chapter 2"),
        ("en", "E-book follow-up 2: the checklists"),
        ("pt-br", "Acompanhamento do e-book 1: capítulo 2"),
        ("pt-br", "Acompanhamento do e-book 2: os checklists"),
    ]
    [segment] = Segment.objects.all()
    assert definition_errors(segment.definition) == []
    ContactFactory(temperature="hot")
    ContactFactory(temperature="cold")
    assert segment_count(segment=segment) == 1


def test_nothing_is_seeded_without_the_demo_form():
    assert nurture_demo_seed() is False
    assert not Sequence.objects.exists()


def test_a_lead_can_be_enrolled_in_the_demo_sequence():
    demo_seed()
    nurture_demo_seed()
    contact = ContactFactory()

    enrollment = enrollment_start(
        sequence=Sequence.objects.get(), contact_id=contact.pk, source="test"
    )

    assert enrollment is not None and enrollment.state == "active"
