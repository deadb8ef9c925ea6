"""Submissions (read) and sequences (list, unenrol) through the API."""

from __future__ import annotations

import json

import pytest

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.nurture.models import Enrollment
from leadmill.nurture.tests.factories import EnrollmentFactory, SequenceFactory

from ..services import api_key_create

pytestmark = pytest.mark.django_db


def key(*scopes: str) -> dict:
    _key, secret = api_key_create(name="crm", scopes=list(scopes))
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_a_lead_sent_through_the_api_is_listed_as_its_submission_verbatim(client):
    writer, reader = key("leads:write"), key("submissions:read")
    created = client.post(
        "/api/v1/leads/",
        json.dumps({"email": "Ana@Example.com", "utm_source": "crm"}),
        content_type="application/json",
        **writer,
    )
    lead_id = created.json()["lead"]["id"]

    listed = client.get(f"/api/v1/submissions/?lead_id={lead_id}", **reader)
    one = client.get(f"/api/v1/submissions/{created.json()['submission_id']}", **reader)
    other_channel = client.get("/api/v1/submissions/?channel=web_form", **reader)
    missing = client.get("/api/v1/submissions/999999", **reader)

    assert [s["id"] for s in listed.json()["items"]] == [created.json()["submission_id"]]
    assert {k: one.json()[k] for k in ("channel", "status", "lead_id", "utm_source")} == {
        "channel": "api",
        "status": "accepted",
        "lead_id": lead_id,
        "utm_source": "crm",
    }
    assert one.json()["data"]["email"] == "Ana@Example.com"  # as it was sent
    assert one.json()["author"].startswith("api_key:")
    assert other_channel.json()["items"] == []
    assert missing.status_code == 404


def test_sequences_are_listed_with_their_counts_and_leads_taken_out(client):
    welcome = SequenceFactory(name="Welcome")
    ana, bo = ContactFactory(email="ana@example.com"), ContactFactory()
    EnrollmentFactory(sequence=welcome, contact=ana)
    EnrollmentFactory(sequence=welcome, contact=bo)
    auth = key("sequences:read", "sequences:write")

    before = client.get("/api/v1/sequences/", **auth)
    out = client.post(
        f"/api/v1/sequences/{welcome.pk}/unenrollments",
        json.dumps({"emails": ["ANA@example.com", "nobody@example.com"], "contact_ids": [bo.pk]}),
        content_type="application/json",
        **auth,
    )
    again = client.post(
        f"/api/v1/sequences/{welcome.pk}/unenrollments",
        json.dumps({"contact_ids": [bo.pk]}),
        content_type="application/json",
        **auth,
    )
    nothing = client.post(
        f"/api/v1/sequences/{welcome.pk}/unenrollments",
        json.dumps({}),
        content_type="application/json",
        **auth,
    )

    assert [(s["name"], s["active_count"]) for s in before.json()["items"]] == [("Welcome", 2)]
    assert out.json() == {
        "unenrolled": 2,
        "not_enrolled": 0,
        "unknown_contact_ids": [],
        "unknown_emails": ["nobody@example.com"],
    }
    assert again.json()["unenrolled"] == 0
    assert nothing.status_code == 400
    assert set(Enrollment.objects.values_list("state", flat=True)) == {Enrollment.State.EXITED}
