"""A lead's data export ("⋯" → "Export this lead's data"): every app's rows about the lead,
found through the personal-data registry, and nobody else's."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from leadmill.consent.services import ConsentProof, consents_record, purpose_ensure
from leadmill.contacts.tests.factories import ContactFactory, UserFactory
from leadmill.tracking.tests.factories import EventFactory, VisitorFactory

from ..models import Submission

pytestmark = pytest.mark.django_db


def test_the_export_holds_the_leads_rows_from_every_app_and_nobody_elses(client):
    # Given a lead with a submission, a consent, a browser whose events began before she
    # was known, and another lead
    client.force_login(UserFactory(username="boss", is_superuser=True, is_staff=True))
    lead = ContactFactory(email="ana@example.com", first_name="Ana")
    other = ContactFactory(email="rui@example.com")
    Submission.objects.create(contact=lead, data={"email": "ana@example.com"})
    news = purpose_ensure(key="news", name="Newsletter", text="Send me the newsletter.")
    consents_record(
        contact=lead,
        granted={news.pk: True},
        texts={news.pk: news.current_text},
        proof=ConsentProof(page_url="https://lp.example/news/"),
    )
    browser = VisitorFactory(contact=lead)
    EventFactory(visitor=browser, contact=lead, url="https://lp.example/known/")
    EventFactory(visitor=browser, contact=None, url="https://lp.example/before/")
    EventFactory(contact=other, url="https://lp.example/rui/")

    # When her data is exported
    response = client.get(reverse("leads:export_data", args=[lead.pk]))

    # Then the file holds her rows of each app, and nothing of the other lead
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="lead-{lead.pk}-data.json"'
    exported = json.loads(response.content)
    data = exported["data"]
    assert exported["lead"] == lead.pk
    assert [row["email"] for row in data["contacts.contact"]] == ["ana@example.com"]
    assert len(data["capture.submission"]) == 1
    assert [row["page_url"] for row in data["consent.consent"]] == ["https://lp.example/news/"]
    assert sorted(row["url"] for row in data["tracking.event"]) == [
        "https://lp.example/before/",
        "https://lp.example/known/",
    ]
    assert "rui@example.com" not in response.content.decode()
    assert "https://lp.example/rui/" not in response.content.decode()


def test_a_user_who_may_not_change_leads_cannot_export_one(client):
    viewer = UserFactory(username="viewer")
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["access_admin", "view_contact"])
    )
    client.force_login(viewer)
    lead = ContactFactory()

    response = client.get(reverse("leads:export_data", args=[lead.pk]))

    assert (response.status_code, response["Location"]) == (302, reverse("wagtailadmin_home"))
