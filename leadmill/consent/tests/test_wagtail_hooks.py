"""Consent in the back office: purposes with versioned texts, and the lead page's consent part."""

import datetime as dt

import pytest
from django.urls import reverse

from leadmill.contacts.tests.factories import ContactFactory

from ..models import Consent, Purpose, PurposeText
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
        {"name": "Newsletter", "key": "news", "text": "Send me the monthly newsletter."},
    )

    assert response.status_code == 302
    versions = list(
        PurposeText.objects.filter(purpose=purpose)
        .order_by("version")
        .values_list("version", "text")
    )
    assert versions == [(1, "Send me the newsletter."), (2, "Send me the monthly newsletter.")]


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
