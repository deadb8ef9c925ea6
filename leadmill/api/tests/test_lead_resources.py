"""One lead through the API: partial update, merge, stage change, batch upsert, and what
hangs on it (timeline, consents, scores, enrolments)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from leadmill.consent.models import Consent
from leadmill.consent.tests.factories import PurposeFactory
from leadmill.contacts.models import Contact, ContactMerge, StageChange
from leadmill.contacts.tests.factories import ContactFactory, UserFactory
from leadmill.nurture.tests.factories import EnrollmentFactory, SequenceFactory
from leadmill.sales.models import SalesLead
from leadmill.sales.tests.factories import SalesLeadFactory, SalesRepFactory
from leadmill.scoring.models import ContactScore

from ..models import IdempotentRequest
from ..services import api_key_create

pytestmark = pytest.mark.django_db


def key(*scopes: str) -> dict:
    _key, secret = api_key_create(name="crm", scopes=list(scopes))
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def send(client, method: str, path: str, body, auth: dict, **headers):
    return getattr(client, method)(
        path, json.dumps(body), content_type="application/json", **auth, **headers
    )


# --- PATCH ---------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent_and_merges_custom_keys(client):
    lead = ContactFactory(first_name="Ana", role="CTO", custom={"plan": "pro", "seats": 3})
    auth = key("leads:write")

    response = send(
        client,
        "patch",
        f"/api/v1/leads/{lead.pk}",
        {"last_name": "Silva", "temperature": "hot", "custom": {"seats": 5}, "country": "Brasil"},
        auth,
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["first_name"], body["last_name"], body["role"]) == ("Ana", "Silva", "CTO")
    assert (body["temperature"], body["country"]) == ("hot", "BR")
    assert body["custom"] == {"plan": "pro", "seats": 5}
    lead.refresh_from_db()
    assert (lead.last_name, lead.temperature, lead.custom) == (
        "Silva",
        "hot",
        {"plan": "pro", "seats": 5},
    )


def test_patch_with_another_leads_email_is_409_and_changes_nothing(client):
    ContactFactory(email="taken@example.com")
    lead = ContactFactory(email="mine@example.com", first_name="Bo")
    auth = key("leads:write")

    response = send(
        client,
        "patch",
        f"/api/v1/leads/{lead.pk}",
        {"email": "Taken@Example.com", "first_name": "Changed"},
        auth,
    )

    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    lead.refresh_from_db()
    assert (lead.email, lead.first_name) == ("mine@example.com", "Bo")


def test_patch_gives_the_lead_an_owner_who_is_a_sales_rep_and_refuses_anyone_else(client):
    rep = SalesRepFactory().user
    not_a_rep = UserFactory()
    lead = ContactFactory()
    auth = key("leads:write")

    given = send(client, "patch", f"/api/v1/leads/{lead.pk}", {"owner_id": rep.pk}, auth)
    refused = send(client, "patch", f"/api/v1/leads/{lead.pk}", {"owner_id": not_a_rep.pk}, auth)

    assert given.status_code == 200
    assert given.json()["owner_id"] == rep.pk
    assert refused.status_code == 404
    assert refused.json()["code"] == "owner_unknown"
    lead.refresh_from_db()
    assert lead.owner_id == rep.pk


def test_patch_of_an_unknown_lead_is_404_and_a_read_key_gets_403(client):
    lead = ContactFactory()

    unknown = send(client, "patch", "/api/v1/leads/999999", {"first_name": "X"}, key("leads:write"))
    read_only = send(
        client, "patch", f"/api/v1/leads/{lead.pk}", {"first_name": "X"}, key("leads:read")
    )

    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert (read_only.status_code, read_only.json()["code"]) == (403, "forbidden")


# --- Merge and stage -----------------------------------------------------------------------


def test_merge_moves_the_other_lead_into_this_one_and_deletes_it(client):
    survivor = ContactFactory(email="ana@example.com", first_name="")
    other = ContactFactory(email="ana.work@example.com", first_name="Ana", company_name="Acme")
    auth = key("leads:write")

    response = send(
        client, "post", f"/api/v1/leads/{survivor.pk}/merge", {"other_id": other.pk}, auth
    )
    again = send(client, "post", f"/api/v1/leads/{survivor.pk}/merge", {"other_id": other.pk}, auth)
    itself = send(
        client, "post", f"/api/v1/leads/{survivor.pk}/merge", {"other_id": survivor.pk}, auth
    )

    assert response.status_code == 200, response.content
    assert (response.json()["id"], response.json()["first_name"]) == (survivor.pk, "Ana")
    assert not Contact.objects.filter(pk=other.pk).exists()
    assert ContactMerge.objects.get().merged_contact_id == other.pk
    assert (again.status_code, again.json()["code"]) == (404, "not_found")
    assert (itself.status_code, itself.json()["code"]) == (400, "merge_self")


def test_a_stage_change_is_kept_with_its_cause_and_the_keys_name(client):
    lead = ContactFactory()
    auth = key("leads:write")

    moved = send(
        client, "post", f"/api/v1/leads/{lead.pk}/stage", {"stage": "sql", "cause": "demo"}, auth
    )
    again = send(
        client, "post", f"/api/v1/leads/{lead.pk}/stage", {"stage": "sql", "cause": "demo"}, auth
    )
    unknown = send(
        client, "post", f"/api/v1/leads/{lead.pk}/stage", {"stage": "vip", "cause": "x"}, auth
    )

    assert moved.status_code == 200
    assert (moved.json()["changed"], moved.json()["lead"]["lifecycle_stage"]) == (True, "sql")
    assert again.json()["changed"] is False
    assert unknown.status_code == 422
    change = StageChange.objects.filter(contact=lead).order_by("-id").first()
    assert (change.from_stage, change.to_stage, change.cause) == ("lead", "sql", "demo (API: crm)")


# --- Batch ---------------------------------------------------------------------------------


def test_a_batch_answers_each_lead_as_the_single_upsert_would(client):
    ContactFactory(email="known@example.com")
    auth = key("leads:write")

    response = send(
        client,
        "post",
        "/api/v1/leads/batch",
        {
            "leads": [
                {"email": "new@example.com", "first_name": "New"},
                {"email": "known@example.com", "role": "CFO"},
                {"email": "not-an-address"},
            ]
        },
        auth,
    )

    assert response.status_code == 200, response.content
    items = response.json()["items"]
    assert [(item["index"], item["status"]) for item in items] == [(0, 201), (1, 200), (2, 400)]
    assert items[0]["body"]["lead"]["email"] == "new@example.com"
    assert items[1]["body"]["created"] is False
    assert items[2]["body"]["code"] == "email_invalid"
    assert Contact.objects.get(email="known@example.com").role == "CFO"
    assert Contact.objects.count() == 2


def test_a_batch_retried_with_its_idempotency_key_writes_nothing_twice(client):
    auth = key("leads:write")
    body = {"leads": [{"email": "a@example.com"}, {"email": "b@example.com"}]}

    first = send(client, "post", "/api/v1/leads/batch", body, auth, HTTP_IDEMPOTENCY_KEY="b-1")
    IdempotentRequest.objects.all().delete()  # past its 24 hours: the external ids still hold
    retry = send(client, "post", "/api/v1/leads/batch", body, auth, HTTP_IDEMPOTENCY_KEY="b-1")

    assert [item["status"] for item in first.json()["items"]] == [201, 201]
    assert [item["body"]["duplicate"] for item in retry.json()["items"]] == [True, True]
    assert Contact.objects.count() == 2


def test_a_batch_of_more_than_100_is_refused_whole(client):
    auth = key("leads:write")

    response = send(
        client,
        "post",
        "/api/v1/leads/batch",
        {"leads": [{"email": f"l{n}@example.com"} for n in range(101)]},
        auth,
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["leads"]
    assert not Contact.objects.exists()


def test_a_lead_naming_no_one_breaks_the_schema_and_refuses_the_batch_whole(client):
    auth = key("leads:write")

    response = send(
        client,
        "post",
        "/api/v1/leads/batch",
        {"leads": [{"email": "a@example.com"}, {"first_name": "Nobody"}]},
        auth,
    )

    assert response.status_code == 422, response.content
    assert "leads at 1" in response.json()["message"] + str(response.json()["errors"])
    assert not Contact.objects.exists()


# --- What hangs on a lead ------------------------------------------------------------------


def test_the_timeline_consents_scores_and_enrolments_of_a_lead(client):
    lead = ContactFactory(temperature="warm")
    purpose = PurposeFactory(key="newsletter")
    now = timezone.now()
    Consent.objects.create(
        contact=lead,
        purpose=purpose,
        granted=True,
        method="api",
        occurred_at=now,
        author="api_key:1",
    )
    Consent.objects.create(
        contact=lead, purpose=purpose, granted=False, method="unsubscribe", occurred_at=now
    )
    ContactScore.objects.create(contact=lead, fit_score=30, engagement_at=now, updated_at=now)
    sequence = SequenceFactory(name="Welcome")
    EnrollmentFactory(contact=lead, sequence=sequence)
    auth = key("leads:read")

    timeline = client.get(f"/api/v1/leads/{lead.pk}/timeline", **auth)
    consents = client.get(f"/api/v1/leads/{lead.pk}/consents", **auth)
    scores = client.get(f"/api/v1/leads/{lead.pk}/scores", **auth)
    enrolments = client.get(f"/api/v1/leads/{lead.pk}/enrollments", **auth)
    missing = client.get("/api/v1/leads/999999/scores", **auth)

    assert timeline.status_code == 200
    assert {entry["kind"] for entry in timeline.json()} >= {"consent", "sequence"}
    assert consents.json()["current"] == {"newsletter": False}
    assert [(c["method"], c["granted"]) for c in consents.json()["history"]] == [
        ("unsubscribe", False),
        ("api", True),
    ]
    assert {key: scores.json()[key] for key in ("scored", "fit", "engagement", "total")} == {
        "scored": True,
        "fit": 30,
        "engagement": 0.0,
        "total": 30.0,
    }
    assert scores.json()["temperature"] == "warm"
    assert [(e["sequence_name"], e["state"]) for e in enrolments.json()] == [("Welcome", "active")]
    assert missing.status_code == 404


def test_a_lead_never_scored_says_so(client):
    lead = ContactFactory()

    scores = client.get(f"/api/v1/leads/{lead.pk}/scores", **key("leads:read"))

    assert scores.json()["scored"] is False
    assert (scores.json()["fit"], scores.json()["reasons"]) == (0, [])


def test_the_sales_lead_is_left_alone_by_a_patch_that_names_no_owner(client):
    sales_lead = SalesLeadFactory()
    owner_before = sales_lead.owner_id

    response = send(
        client,
        "patch",
        f"/api/v1/leads/{sales_lead.contact_id}",
        {"first_name": "Renamed"},
        key("leads:write"),
    )

    assert response.status_code == 200
    assert SalesLead.objects.get().owner_id == owner_before


def test_a_kept_answer_names_its_lead_so_merge_and_erasure_find_it(client):
    lead = ContactFactory()
    auth = key("leads:write")

    send(
        client,
        "patch",
        f"/api/v1/leads/{lead.pk}",
        {"first_name": "Ana"},
        auth,
        HTTP_IDEMPOTENCY_KEY="p-1",
    )
    send(
        client,
        "post",
        "/api/v1/leads/",
        {"email": "bo@example.com"},
        auth,
        HTTP_IDEMPOTENCY_KEY="c-1",
    )

    created = Contact.objects.get(email="bo@example.com")
    assert dict(IdempotentRequest.objects.values_list("idempotency_key", "contact_id")) == {
        "p-1": lead.pk,
        "c-1": created.pk,
    }


def test_a_batch_is_processed_together_and_a_lead_refused_before_storing_refuses_no_other(
    client, monkeypatch
):
    # Given a batch of a new lead, the same lead's email again, an address that cannot be
    # known and a lead stating a consent purpose that does not exist
    from leadmill.capture import services

    calls = []
    upsert = services.contacts_upsert

    def counting(*, details):
        calls.append(len(details))
        return upsert(details=details)

    monkeypatch.setattr(services, "contacts_upsert", counting)
    auth = key("leads:write")
    body = {
        "leads": [
            {"email": "ana@example.com"},
            {"email": "ana@example.com", "first_name": "Ana"},
            {"email": "not-an-address"},
            {
                "email": "bia@example.com",
                "consents": [{"purpose": "no-such-purpose", "text_version": 1, "granted": True}],
            },
        ]
    }

    # When it is posted
    response = send(client, "post", "/api/v1/leads/batch", body, auth)

    # Then the three stored leads went through one contact upsert, in order (the second
    # updates what the first created), and each item is answered alone
    assert response.status_code == 200, response.content
    items = response.json()["items"]
    assert [item["status"] for item in items] == [201, 200, 400, 400]
    assert items[1]["body"]["lead"]["id"] == items[0]["body"]["lead"]["id"]
    assert items[1]["body"]["lead"]["first_name"] == "Ana"
    assert [items[2]["body"]["code"], items[3]["body"]["code"]] == [
        "email_invalid",
        "consent_unknown",
    ]
    assert calls == [3]
    assert list(Contact.objects.values_list("email", flat=True)) == ["ana@example.com"]
