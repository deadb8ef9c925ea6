"""Outcomes and sales activities through the API."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from leadmill.contacts.models import Contact
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.models import OutboxEvent
from leadmill.sales.models import Activity, SalesLead
from leadmill.sales.tests.factories import SalesLeadFactory, SalesRepFactory

from ..services import api_key_create

pytestmark = pytest.mark.django_db


def key(*scopes: str) -> dict:
    _key, secret = api_key_create(name="crm", scopes=list(scopes))
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def post(client, path: str, body: dict, auth: dict):
    return client.post(path, json.dumps(body), content_type="application/json", **auth)


def test_a_won_deal_makes_the_lead_a_customer_and_closes_its_sales_lead(client, settings):
    settings.LEADMILL_REPORTING_CURRENCY = "USD"
    sales_lead = SalesLeadFactory()
    auth = key("outcomes:write")

    response = post(
        client,
        "/api/v1/outcomes/",
        {
            "lead_id": sales_lead.contact_id,
            "outcome": "won",
            "value": "1250.50",
            "currency": "USD",
            "outcome_at": "2026-11-30T15:00:00Z",
        },
        auth,
    )
    again = post(
        client, "/api/v1/outcomes/", {"lead_id": sales_lead.contact_id, "outcome": "won"}, auth
    )

    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in ("outcome", "value", "currency", "lifecycle_stage")} == {
        "outcome": "won",
        "value": "1250.50",
        "currency": "USD",
        "lifecycle_stage": "customer",
    }
    contact = Contact.objects.get(pk=sales_lead.contact_id)
    assert (contact.outcome, contact.outcome_value) == ("won", Decimal("1250.50"))
    assert SalesLead.objects.get().closed_at is not None
    assert OutboxEvent.objects.filter(name__endswith="OutcomeRecorded").count() == 1
    assert (again.status_code, again.json()["code"]) == (409, "lead_closed")


def test_a_lead_never_handed_to_sales_gets_its_outcome_too_and_lost_needs_a_reason(client):
    lead = ContactFactory()
    auth = key("outcomes:write")

    without_reason = post(
        client, "/api/v1/outcomes/", {"lead_id": lead.pk, "outcome": "lost"}, auth
    )
    other_currency = post(
        client,
        "/api/v1/outcomes/",
        {"lead_id": lead.pk, "outcome": "won", "value": "10", "currency": "XYZ"},
        auth,
    )
    lost = post(
        client,
        "/api/v1/outcomes/",
        {"lead_id": lead.pk, "outcome": "lost", "reason": "chose a competitor"},
        auth,
    )

    assert without_reason.status_code == 400
    assert without_reason.json()["code"] == "reason_required"
    assert other_currency.status_code == 422
    assert lost.status_code == 200
    lead.refresh_from_db()
    assert (lead.outcome, lead.outcome_reason, lead.lifecycle_stage) == (
        "lost",
        "chose a competitor",
        "lead",
    )


def test_activities_are_logged_listed_and_a_task_ticked_done(client):
    sales_lead = SalesLeadFactory(first_activity_at=None)
    rep = SalesRepFactory().user
    auth = key("activities:write", "activities:read")

    call = post(
        client,
        "/api/v1/activities/",
        {"lead_id": sales_lead.contact_id, "kind": "call", "subject": "Intro", "user_id": rep.pk},
        auth,
    )
    task_without_due = post(
        client, "/api/v1/activities/", {"lead_id": sales_lead.contact_id, "kind": "task"}, auth
    )
    task = post(
        client,
        "/api/v1/activities/",
        {"lead_id": sales_lead.contact_id, "kind": "task", "due_at": "2030-01-01T09:00:00Z"},
        auth,
    )
    done = client.patch(
        f"/api/v1/activities/{task.json()['id']}",
        json.dumps({"done": True}),
        content_type="application/json",
        **auth,
    )
    listed = client.get(f"/api/v1/activities/?lead_id={sales_lead.contact_id}", **auth)

    assert call.status_code == 201, call.content
    assert (call.json()["kind"], call.json()["user_id"]) == ("call", rep.pk)
    assert SalesLead.objects.get().first_activity_at is not None  # the speed-to-lead clock stops
    assert task_without_due.status_code == 400
    assert task_without_due.json()["code"] == "task_due"
    assert done.json()["done"] is True
    assert [(a["kind"], a["done"]) for a in listed.json()["items"]] == [
        ("call", False),
        ("task", True),
    ]
    assert Activity.objects.count() == 2
