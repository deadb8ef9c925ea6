"""Hostile JSON bodies on every write the API gained with issue 16: an answer in the one
shape, 2xx or 4xx, never 5xx, and nothing half written (Hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.segments.tests.factories import StaticSegmentFactory
from leadmill.tracking.models import Event

from ..services import api_key_create

pytestmark = pytest.mark.django_db

HOSTILE = settings(
    max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
# Bodies shaped like each endpoint's, with hostile values where the fields go.
FIELDS = st.sampled_from(
    [
        "leads",
        "events",
        "type",
        "lead_id",
        "visitor_id",
        "url",
        "properties",
        "occurred_at",
        "contact_ids",
        "other_id",
        "stage",
        "cause",
        "outcome",
        "value",
        "currency",
        "kind",
        "due_at",
        "done",
        "email",
        "custom",
        "owner_id",
    ]
)
bodies = json_values | st.dictionaries(FIELDS, json_values, max_size=5)


@pytest.fixture
def secret(settings):
    settings.LEADMILL_API_RATE_LIMIT = 0
    _key, secret = api_key_create(name="hostile", scopes=["all"])
    return secret


@pytest.fixture
def paths():
    lead = ContactFactory()
    static = StaticSegmentFactory()
    return [
        ("post", "/api/v1/leads/batch"),
        ("patch", f"/api/v1/leads/{lead.pk}"),
        ("post", f"/api/v1/leads/{lead.pk}/merge"),
        ("post", f"/api/v1/leads/{lead.pk}/stage"),
        ("post", "/api/v1/events/"),
        ("post", f"/api/v1/segments/{static.pk}/members"),
        ("post", "/api/v1/outcomes/"),
        ("post", "/api/v1/activities/"),
    ]


@HOSTILE
@given(body=bodies, which=st.integers(min_value=0, max_value=7))
def test_any_body_answers_in_the_one_shape_and_never_5xx(client, secret, paths, body, which):
    method, path = paths[which]
    events_before = Event.objects.count()

    response = getattr(client, method)(
        path,
        json.dumps(body),  # NaN and Infinity as Python writes them, too
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )

    assert response.status_code < 500, (path, body, response.content[:300])
    if response.status_code >= 400:
        assert sorted(response.json()) == ["code", "errors", "message"]
        if path == "/api/v1/events/":
            assert Event.objects.count() == events_before  # refused whole
