"""POST /api/v1/events/: server-side events of leads and visitors, by the collect's rules."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.tracking.models import Event
from leadmill.tracking.selectors import config_cache_clear

from ..services import api_key_create

pytestmark = pytest.mark.django_db

VISITOR = "v" * 24
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


@pytest.fixture(autouse=True)
def _fresh_bot_rules():
    config_cache_clear()
    yield
    config_cache_clear()


def post(client, body, scopes=("events:write",)):
    _key, secret = api_key_create(name="backend", scopes=list(scopes))
    return client.post(
        "/api/v1/events/",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def test_a_leads_event_and_a_visitors_are_stored_with_the_collects_rules(client):
    lead = ContactFactory()
    long_ago = (timezone.now() - dt.timedelta(days=30)).isoformat()

    response = post(
        client,
        {
            "events": [
                {
                    "type": "custom",
                    "name": "trial_started",
                    "lead_id": lead.pk,
                    "properties": {"plan": "pro", "seats": 3},
                    "occurred_at": long_ago,
                },
                {
                    "type": "page_view",
                    "visitor_id": VISITOR,
                    "url": "https://www.example.com/pricing?utm_source=newsletter",
                    "user_agent": BROWSER,
                    "consent": True,
                },
                {"type": "download", "visitor_id": VISITOR},  # no browser: kept as a bot's
            ]
        },
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"stored": 3, "bots": 1}
    custom = Event.objects.get(type="custom")
    assert (custom.contact_id, custom.name, custom.properties) == (
        lead.pk,
        "trial_started",
        {"plan": "pro", "seats": 3},
    )
    # trusted within a day, as the collect endpoint: a month ago is taken as a day ago
    assert timezone.now() - custom.occurred_at < dt.timedelta(days=1, minutes=1)
    page_view = Event.objects.get(type="page_view")
    assert (page_view.visitor_id, page_view.source, page_view.is_bot) == (
        VISITOR,
        "newsletter",
        False,
    )
    assert Event.objects.get(type="download").is_bot is True


def test_an_unknown_lead_refuses_the_whole_batch_with_404(client):
    lead = ContactFactory()

    response = post(
        client,
        {
            "events": [
                {"type": "cta_click", "lead_id": lead.pk},
                {"type": "cta_click", "lead_id": 999999},
            ]
        },
    )

    assert response.status_code == 404
    assert response.json()["errors"] == {"events.1.lead_id": ["No lead with this id."]}
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "page_view", "visitor_id": VISITOR, "url": "ftp://example.com/"}, "url"),
        ({"type": "email_open", "visitor_id": VISITOR}, "type"),
        ({"type": "cta_click", "visitor_id": "short"}, "visitor_id"),
        ({"type": "cta_click", "lead_id": 1, "properties": {"x": float("nan")}}, "properties"),
    ],
)
def test_events_the_collect_would_refuse_are_refused_and_nothing_is_stored(client, event, field):
    response = post(client, {"events": [event]})

    assert response.status_code == 422, response.content
    assert [name.split(".")[2] for name in response.json()["errors"]] == [field]
    assert not Event.objects.exists()


def test_properties_past_4096_bytes_are_refused_by_name(client):
    lead = ContactFactory()

    response = post(
        client,
        {"events": [{"type": "cta_click", "lead_id": lead.pk, "properties": {"t": "x" * 5000}}]},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "properties_too_large"
    assert not Event.objects.exists()


def test_a_key_without_the_events_scope_is_403(client):
    response = post(client, {"events": [{"type": "cta_click", "lead_id": 1}]}, ("leads:write",))

    assert response.status_code == 403
