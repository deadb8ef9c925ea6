"""GET /api/v1/analytics/funnel: the same numbers as the selector, scoped, hostile input
answered with 4xx."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmill.api.services import api_key_create

from .known_funnel import known_funnel

pytestmark = pytest.mark.django_db


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_funnel_by_source_answers_the_known_numbers(client):
    data = known_funnel()
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])
    response = client.get(
        "/api/v1/analytics/funnel",
        {"since": data.d1.isoformat(), "until": data.d2.isoformat(), "group_by": "source"},
        **bearer(secret),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    rows = {row["value"]: row for row in body["rows"]}
    assert (rows["google"]["visitors"], rows["google"]["leads"]) == (3, 2)
    assert rows["google"]["cost_per_lead"] == "50.00"
    assert rows["linkedin"]["cost_per_lead"] is None
    assert body["total"]["spend"] == "180.00"
    assert body["reading"] == "cohort"

    activity = client.get(
        "/api/v1/analytics/funnel",
        {"since": data.d1.isoformat(), "until": data.d2.isoformat(), "reading": "activity"},
        **bearer(secret),
    ).json()
    assert activity["total"]["mqls"] == 2


def test_a_key_without_the_analytics_scope_is_refused(client):
    _key, secret = api_key_create(name="crm", scopes=["leads:read"])
    response = client.get(
        "/api/v1/analytics/funnel", {"since": "2026-01-01", "until": "2026-01-02"}, **bearer(secret)
    )
    assert response.status_code == 403


def test_a_period_that_ends_before_it_starts_is_a_clear_400(client):
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])
    response = client.get(
        "/api/v1/analytics/funnel", {"since": "2026-01-02", "until": "2026-01-01"}, **bearer(secret)
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_period"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    params=st.dictionaries(
        st.sampled_from(["since", "until", "group_by", "reading", "window_days", "source"]),
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(["2026-01-01", "1900-01-01", "9999-12-31", "-1", "source", "x" * 300]),
        ),
    )
)
def test_hostile_query_strings_get_4xx_never_5xx(client, params):
    _key, secret = api_key_create(name="fuzz", scopes=["analytics:read"])
    response = client.get("/api/v1/analytics/funnel", params, **bearer(secret))
    assert response.status_code < 500, response.content
