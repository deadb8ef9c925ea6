"""The back office read in Brazilian Portuguese: the screens the restructured apps serve name
their columns and fields in Portuguese, and show a dash, not "None", for what is empty."""

import re

import pytest

from leadmill.capture.models import Submission
from leadmill.capture.tests.factories import FormFactory
from leadmill.contacts.tests.factories import ContactFactory, PossibleDuplicateFactory
from leadmill.nurture.tests.factories import SequenceFactory
from leadmill.segments.tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client, django_user_model):
    """A back-office user whose language preference is Brazilian Portuguese."""
    from wagtail.users.models import UserProfile

    user = django_user_model.objects.create_superuser("ana", "ana@leadmill.test", "pw")
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = "pt-br"
    profile.save()
    client.force_login(user)
    return client


def column_headings(html: str) -> list[str]:
    return [
        " ".join(re.sub(r"<[^>]+>", " ", th).split())
        for th in re.findall(r"<th[^>]*>(.*?)</th>", html, re.DOTALL)
    ]


def inspect_labels(html: str) -> dict[str, str]:
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", html, re.DOTALL)
    return {
        label.strip(): " ".join(re.sub(r"<[^>]+>", " ", value).split()) for label, value in pairs
    }


def test_segments_and_sequences_are_listed_with_portuguese_columns(reader):
    SegmentFactory(name="Quentes")
    SequenceFactory(name="Boas-vindas")

    segments = column_headings(reader.get("/admin/snippets/segments/segment/").content.decode())
    sequences = column_headings(reader.get("/admin/snippets/nurture/sequence/").content.decode())

    assert "Atualizado em" in segments and "Updated at" not in segments
    assert "Atualizado em" in sequences and "Updated at" not in sequences


def test_a_submission_is_shown_with_portuguese_labels_and_dashes_for_what_is_empty(reader):
    submission = Submission.objects.create(
        form=FormFactory(name="Demo"),
        data={"email": "ana@example.com"},
        utm_source="newsletter",
        ip_address="127.0.0.1",
    )

    listing = column_headings(reader.get("/admin/submissions/").content.decode())
    shown = inspect_labels(
        reader.get(f"/admin/submissions/inspect/{submission.pk}/").content.decode()
    )

    assert "Formulário" in listing and "Form" not in listing
    assert shown["Formulário"] == "Demo"
    assert shown["UTM source"] == "newsletter"
    assert shown["Endereço IP"] == "127.0.0.1"
    assert not {"Form", "Utm source", "Ip address"} & set(shown)
    assert "None" not in shown.values()


def test_a_possible_duplicate_gives_its_reason_in_portuguese(reader):
    lead = ContactFactory(first_name="Carla")
    duplicate = PossibleDuplicateFactory(
        contact=lead, other=ContactFactory(first_name="Carla"), reason="same phone, different email"
    )

    listing = reader.get("/admin/leads/duplicates/").content.decode()
    review = reader.get(f"/admin/leads/duplicates/review/{duplicate.pk}/").content.decode()
    lead_page = reader.get(f"/admin/leads/inspect/{lead.pk}/").content.decode()

    for html in (listing, review, lead_page):
        assert "mesmo telefone, e-mail diferente" in html
        assert "same phone, different email" not in html
