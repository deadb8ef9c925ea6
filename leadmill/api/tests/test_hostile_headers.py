"""Hostile headers and parameters on the API's public doors: always 4xx in the one shape,
never 5xx (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..services import api_key_create

pytestmark = pytest.mark.django_db

HOSTILE = settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), min_size=1, max_size=400
)


@pytest.fixture
def secret(settings):
    settings.LEADMILL_API_RATE_LIMIT = 0
    _key, secret = api_key_create(name="hostile", scopes=["all"])
    return secret


def assert_one_shape(response, *statuses):
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    body = response.json()
    if response.status_code >= 400:
        assert sorted(body) == ["code", "errors", "message"]


@HOSTILE
@given(idempotency_key=header_text, body=st.binary(max_size=200))
def test_any_idempotency_key_and_body_answers_4xx_or_a_lead(client, secret, idempotency_key, body):
    response = client.post(
        "/api/v1/leads/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        HTTP_IDEMPOTENCY_KEY=idempotency_key,
    )

    assert_one_shape(response, 200, 201, 400, 409, 415, 422)


@HOSTILE
@given(token=header_text)
def test_any_bearer_token_answers_401(client, token):
    response = client.get("/api/v1/leads/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert_one_shape(response, 401)


@HOSTILE
@given(
    after=st.text(max_size=30),
    limit=st.one_of(st.integers(), st.text(max_size=10)),
    since=st.text(max_size=30),
    stage=st.text(max_size=15),
)
def test_any_listing_parameters_answer_a_page_or_422(client, secret, after, limit, since, stage):
    response = client.get(
        "/api/v1/leads/",
        {"after": after, "limit": limit, "created_since": since, "stage": stage},
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )

    assert_one_shape(response, 200, 422)
