"""Consent in the back office: purposes with versioned texts, and the lead page's consent part."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from leadmill.contacts.tests.factories import ContactFactory

from ..models import Consent, Purpose, PurposeText, Suppression
from ..selectors import address_hash
from ..services import ConsentProof, consents_record, purpose_ensure

pytestmark = pytest.mark.django_db

PURPOSES = "/admin/snippets/consent/purpose/"


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    return client


def test_the_purposes_listing_shows_each_purpose(staff):
    purpose_ensure(
        key="email-marketing",
        name="Marketing email",
        text="Send me emails.",
        is_email_marketing=True,
    )

    response = staff.get(PURPOSES)

    assert response.status_code == 200
    assert "Marketing email" in response.content.decode()


def test_editing_a_purpose_text_in_the_back_office_makes_a_new_text_version(staff):
    purpose = purpose_ensure(key="news", name="Newsletter", text="Send me the newsletter.")

    response = staff.post(
        reverse(purpose.snippet_viewset.get_url_name("edit"), args=[purpose.pk]),
        {
            "name": "Newsletter",
            "key": "news",
            "text": "Send me the monthly newsletter.",
            **_no_translations,
        },
    )

    assert response.status_code == 302
    versions = list(
        PurposeText.objects.filter(purpose=purpose)
        .order_by("version")
        .values_list("version", "text")
    )
    assert versions == [(1, "Send me the newsletter."), (2, "Send me the monthly newsletter.")]


_no_translations = {
    "translations-TOTAL_FORMS": "0",
    "translations-INITIAL_FORMS": "0",
    "translations-MIN_NUM_FORMS": "0",
    "translations-MAX_NUM_FORMS": "1000",
}


def test_a_purpose_text_translated_in_the_back_office_is_versioned_in_its_language(staff):
    purpose = purpose_ensure(key="news", name="Newsletter", text="Send me the newsletter.")

    response = staff.post(
        reverse(purpose.snippet_viewset.get_url_name("edit"), args=[purpose.pk]),
        {
            "name": "Newsletter",
            "key": "news",
            "text": "Send me the newsletter.",
            **_no_translations,
            "translations-TOTAL_FORMS": "1",
            "translations-0-language": "pt-br",
            "translations-0-text": "Quero receber a newsletter.",
            "translations-0-ORDER": "1",
        },
    )

    assert response.status_code == 302
    assert list(
        PurposeText.objects.filter(purpose=purpose)
        .order_by("version")
        .values_list("version", "language", "text")
    ) == [(1, "", "Send me the newsletter."), (2, "pt-br", "Quero receber a newsletter.")]
    purpose.refresh_from_db()
    assert (purpose.text_in("pt-br"), purpose.text_in("en")) == (
        "Quero receber a newsletter.",
        "Send me the newsletter.",
    )


def test_purposes_cannot_be_deleted_because_the_ledger_points_to_them(staff):
    purpose = purpose_ensure(key="news", name="Newsletter", text="Send me the newsletter.")

    response = staff.post(
        reverse(purpose.snippet_viewset.get_url_name("delete"), args=[purpose.pk])
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("wagtailadmin_home")
    assert Purpose.objects.filter(pk=purpose.pk).exists()


def test_the_lead_page_shows_the_latest_answer_per_purpose_and_the_whole_ledger(staff):
    purpose = purpose_ensure(key="news", name="Newsletter", text="Send me the newsletter.")
    contact = ContactFactory()
    consents_record(
        contact=contact,
        granted={purpose.pk: True},
        texts={purpose.pk: purpose.current_text},
        proof=ConsentProof(
            page_url="https://lp.example/news/", occurred_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        ),
    )
    consents_record(
        contact=contact,
        granted={purpose.pk: False},
        texts={},
        proof=ConsentProof(
            method=Consent.Method.UNSUBSCRIBE, occurred_at=dt.datetime(2025, 2, 1, tzinfo=dt.UTC)
        ),
    )

    response = staff.get(reverse("leads:inspect", args=[contact.pk]))

    panels = {panel.heading: panel for panel in response.context["panels"]}
    assert [row[:2] for row in panels["Consent"].rows] == [("Newsletter", "Declined")]
    assert [(row[1], row[2], row[4]) for row in panels["Consent ledger"].rows] == [
        ("Newsletter", "Declined", "Unsubscribe"),
        ("Newsletter", "Agreed", "Form"),
    ]
    assert "https://lp.example/news/" in response.content.decode()


def test_the_leads_export_has_each_purposes_answer_and_when(staff, settings):
    # Given a lead who agreed to the newsletter then unsubscribed, and agreed to the
    # privacy notice; another who declined the newsletter; a third never asked
    settings.TIME_ZONE = "America/Sao_Paulo"
    news = purpose_ensure(key="news", name="Newsletter", text="Send me the newsletter.")
    privacy = purpose_ensure(key="privacy", name="Privacy notice", text="I read it.")
    withdrawn, declined = (
        ContactFactory(email="w@example.com"),
        ContactFactory(email="d@example.com"),
    )
    ContactFactory(email="n@example.com")
    texts = {news.pk: news.current_text, privacy.pk: privacy.current_text}

    def record(contact, granted, day, method=Consent.Method.FORM):
        at = dt.datetime(2025, 1, day, 15, 30, tzinfo=dt.UTC)
        consents_record(
            contact=contact,
            granted=granted,
            texts=texts,
            proof=ConsentProof(method=method, occurred_at=at),
        )

    record(withdrawn, {news.pk: True, privacy.pk: True}, 1)
    record(withdrawn, {news.pk: False}, 2, Consent.Method.UNSUBSCRIBE)
    record(declined, {news.pk: False}, 3)

    # When the leads are exported to CSV
    response = staff.get("/admin/leads/?export=csv")
    rows = {
        row["Email"]: row
        for row in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    }

    # Then each purpose has its answer and its moment, in the site's time zone
    columns = ("Consent: Newsletter", "Consent: Newsletter, at", "Consent: Privacy notice")
    assert [rows["w@example.com"][c] for c in columns] == [
        "withdrawn",
        "2025-01-02 12:30",
        "granted",
    ]
    assert [rows["d@example.com"][c] for c in columns] == ["declined", "2025-01-03 12:30", ""]
    assert [rows["n@example.com"][c] for c in columns] == ["", "", ""]
    assert rows["w@example.com"]["Consent: Privacy notice, at"] == "2025-01-01 12:30"


# --- the suppression list ---------------------------------------------------------------------

SUPPRESSIONS = "/admin/suppression-list/"


def test_the_suppression_list_shows_hash_prefixes_and_reasons_never_addresses(staff):
    from ..services import suppression_add

    suppression_add(
        email="angry@example.com", reason="complaint", detail="Postmark: spam complaint"
    )
    suppression_add(email="erased@example.com", reason="erased")

    response = staff.get(SUPPRESSIONS)

    page = response.content.decode()
    assert response.status_code == 200
    assert address_hash("angry@example.com")[:12] + "…" in page
    assert address_hash("erased@example.com")[:12] + "…" in page
    assert "Spam complaint" in page and "Person erased" in page
    assert "angry@example.com" not in page
    assert address_hash("angry@example.com") not in page  # only the prefix is shown


def test_searching_the_suppression_list_by_address_or_hash_prefix_finds_the_row(staff):
    from ..services import suppression_add

    suppression_add(email="angry@example.com", reason="complaint")
    suppression_add(email="other@example.com", reason="hard_bounce")
    prefix = address_hash("other@example.com")[:8]

    by_address = staff.get(SUPPRESSIONS, {"q": "Angry@Example.com"})
    by_prefix = staff.get(SUPPRESSIONS, {"q": prefix})

    assert [row.reason for row in by_address.context["object_list"]] == ["complaint"]
    assert [row.reason for row in by_prefix.context["object_list"]] == ["hard_bounce"]


def test_adding_an_address_by_hand_stores_only_its_hash(staff):
    response = staff.post(
        SUPPRESSIONS + "new/",
        {"email": "Someone@Example.com", "reason": "manual", "detail": "asked by phone"},
    )

    assert response.status_code == 302
    assert list(Suppression.objects.values_list("address_hash", "reason", "detail")) == [
        (address_hash("someone@example.com"), "manual", "asked by phone")
    ]


def test_adding_an_address_already_listed_says_so_and_writes_nothing(staff):
    from ..services import suppression_add

    suppression_add(email="someone@example.com", reason="hard_bounce")

    response = staff.post(
        SUPPRESSIONS + "new/", {"email": "someone@example.com", "reason": "manual", "detail": ""}
    )

    assert response.status_code == 200
    assert "already on the suppression list" in response.content.decode()
    assert list(Suppression.objects.values_list("reason", flat=True)) == ["hard_bounce"]


def test_suppressions_cannot_be_edited_or_deleted_in_the_back_office(staff):
    from ..services import suppression_add

    suppression_add(email="someone@example.com", reason="hard_bounce")
    row = Suppression.objects.get()

    edit = staff.get(f"{SUPPRESSIONS}edit/{row.pk}/")
    delete = staff.post(f"{SUPPRESSIONS}delete/{row.pk}/")

    assert (edit.status_code, delete.status_code) == (302, 302)
    assert Suppression.objects.filter(pk=row.pk).exists()


def test_the_lead_page_shows_a_double_opt_in_grant_as_awaiting_until_confirmed(staff):
    from ..services import double_opt_in_confirm
    from .factories import consent_give, marketing_purpose

    contact = ContactFactory()
    awaiting = consent_give(contact, marketing_purpose(), awaiting=True)

    before = staff.get(reverse("leads:inspect", args=[contact.pk]))
    double_opt_in_confirm(consent_ids=[awaiting.pk], proof=ConsentProof())
    after = staff.get(reverse("leads:inspect", args=[contact.pk]))

    def current(response):
        panels = {panel.heading: panel for panel in response.context["panels"]}
        return [row[:2] for row in panels["Consent"].rows]

    assert current(before) == [("Marketing email", "Agreed, awaiting email confirmation")]
    assert current(after) == [("Marketing email", "Agreed")]
