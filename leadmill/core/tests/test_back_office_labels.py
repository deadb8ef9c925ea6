"""The back office shows words, not stored codes: yes/no columns as ticks and crosses, a
lead's enrolment source, a submission's source channel and its custom fields by their
labels (in English and in Brazilian Portuguese), and one company line on a lead's page."""

import re

import pytest
from django.utils import timezone

from leadmill.capture.models import Submission
from leadmill.capture.tests.factories import FormFactory, OfferFactory
from leadmill.contacts.models import CustomFieldDefinition
from leadmill.contacts.tests.factories import CompanyFactory, ContactFactory
from leadmill.nurture.models import Enrollment
from leadmill.nurture.tests.factories import SequenceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client, django_user_model):
    """A back-office superuser; ``reader("pt-br")`` reads in Brazilian Portuguese."""
    from wagtail.users.models import UserProfile

    user = django_user_model.objects.create_superuser("ana", "ana@leadmill.test", "pw")
    client.force_login(user)

    def in_language(language: str = "en"):
        profile = UserProfile.get_for_user(user)
        profile.preferred_language = language
        profile.save()
        return client

    return in_language


def listing_cells(html: str) -> list[str]:
    return [
        " ".join(re.sub(r"<[^>]+>", " ", td).split())
        for td in re.findall(r"<td[^>]*>(.*?)</td>", html, re.DOTALL)
    ]


def inspect_labels(html: str) -> dict[str, str]:
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", html, re.DOTALL)
    return {
        label.strip(): " ".join(re.sub(r"<[^>]+>", " ", value).split()) for label, value in pairs
    }


def timeline_details(html: str, kind: str) -> list[str]:
    rows = re.findall(rf'<tr data-kind="{kind}">(.*?)</tr>', html, re.DOTALL)
    return [listing_cells(row)[2] for row in rows]


@pytest.mark.parametrize(
    "url",
    [
        "/admin/snippets/capture/form/",
        "/admin/snippets/capture/offer/",
        "/admin/snippets/nurture/sequence/",
    ],
)
def test_yes_no_columns_of_listings_show_a_tick_or_a_cross_not_true_or_false(reader, url):
    # Given a form, an offer and a sequence: active / an intent signal, and not
    offer = OfferFactory(name="Playbook", is_intent_signal=True)
    OfferFactory(name="Checklist", is_intent_signal=False)
    FormFactory(name="Ebook", offer=offer, is_active=True)
    FormFactory(name="Old", is_active=False)
    SequenceFactory(name="Welcome", is_active=True)
    SequenceFactory(name="Paused", is_active=False)

    # When their listing is read
    response = reader().get(url)

    # Then each yes/no cell is Wagtail's tick or cross, titled in words, never the raw value
    assert response.status_code == 200
    html = response.content.decode()
    yes_no = [cell for cell in listing_cells(html) if cell in ("True", "False", "Yes", "No")]
    assert sorted(yes_no) == ["No", "Yes"]
    start = html.index('<table class="listing')
    rows = html[start : html.index("</table>", start)]
    assert (rows.count("#icon-check"), rows.count("#icon-cross")) == (1, 1)


def test_a_yes_no_column_reads_sim_or_nao_in_portuguese(reader):
    FormFactory(name="Ebook", is_active=True)
    FormFactory(name="Old", is_active=False)

    html = reader("pt-br").get("/admin/snippets/capture/form/").content.decode()

    assert sorted(c for c in listing_cells(html) if c in ("Sim", "Não", "True", "False")) == [
        "Não",
        "Sim",
    ]


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", ["Form submitted"]), ("pt-br", ["Formulário enviado"])],
)
def test_a_leads_timeline_names_what_enrolled_it_in_the_readers_language(
    reader, language, expected
):
    # Given a lead a form enrolled in a sequence
    contact = ContactFactory(email="ana@example.com")
    Enrollment.objects.create(
        sequence=SequenceFactory(name="Welcome"),
        contact=contact,
        enrolled_at=timezone.now(),
        next_run_at=timezone.now(),
        source="form",
    )

    # When the lead's page is read
    response = reader(language).get(f"/admin/leads/inspect/{contact.pk}/")

    # Then the enrolment's detail is the source's label, not the code "form"
    assert timeline_details(response.content.decode(), "sequence") == expected


def test_a_hand_enrolment_keeps_who_did_it_beside_the_label():
    from django.utils import translation

    from leadmill.nurture.models import enrollment_source_text

    with translation.override("pt-br"):
        texts = [
            enrollment_source_text(source)
            for source in ("back office (ana)", "api (crm)", "stage", "import 2026")
        ]

    assert texts == [
        "Painel administrativo (ana)",
        "API (crm)",
        "Estágio do ciclo de vida alcançado",
        "import 2026",  # a source without a label is shown as stored
    ]


@pytest.mark.parametrize(
    ("language", "label", "expected"),
    [("en", "Source channel", "Other campaign"), ("pt-br", "Canal de origem", "Outra campanha")],
)
def test_a_submissions_page_names_its_source_channel_in_the_readers_language(
    reader, language, label, expected
):
    # Given a submission tracking classified as "other"
    submission = Submission.objects.create(
        form=FormFactory(),
        data={"email": "ana@example.com"},
        status=Submission.Status.ACCEPTED,
        source_channel="other",
        source="partner",
    )

    # When its page is read
    response = reader(language).get(f"/admin/submissions/inspect/{submission.pk}/")

    # Then the channel is its label, not the code
    assert inspect_labels(response.content.decode())[label] == expected


def test_a_leads_page_shows_one_company_line(reader):
    # Given a lead linked to a company, and one that only typed a company name
    linked = ContactFactory(company=CompanyFactory(name="Acme Ltda"), company_name="ACME")
    typed = ContactFactory(company_name="Padaria Boa")

    # When their pages are read
    linked_fields = inspect_labels(
        reader().get(f"/admin/leads/inspect/{linked.pk}/").content.decode()
    )
    typed_fields = inspect_labels(
        reader().get(f"/admin/leads/inspect/{typed.pk}/").content.decode()
    )

    # Then each shows one "Company" line: the linked company, else the typed name
    assert (linked_fields["Company"], typed_fields["Company"]) == ("Acme Ltda", "Padaria Boa")
    assert "Company name" not in linked_fields
    assert "Company name" not in typed_fields


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", {"Budget": "10k", "Last message": "Call me", "utm_extra": "x"}),
        ("pt-br", {"Budget": "10k", "Última mensagem": "Call me", "utm_extra": "x"}),
    ],
)
def test_a_leads_custom_fields_are_shown_by_their_labels(reader, language, expected):
    # Given a lead with a defined custom field, the message Leadmill keeps, and an unknown key
    CustomFieldDefinition.objects.create(key="budget", label="Budget")
    contact = ContactFactory(custom={"budget": "10k", "last_message": "Call me", "utm_extra": "x"})

    # When its page is read
    html = reader(language).get(f"/admin/leads/inspect/{contact.pk}/").content.decode()

    # Then the values are under their labels; only a key without one is shown as is
    section = html[html.index('id="custom-heading"') :]
    section = section[: section.index("</section>")]
    assert inspect_labels(section) == expected
