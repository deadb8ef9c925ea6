"""GET /api/v1/analytics/quality, /pages, /forms/{slug} and POST /spend: the same numbers
as the screens, scoped, idempotent, hostile input answered with 4xx."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmill.api.services import api_key_create

from ..models import Spend
from .known_form import known_form
from .known_funnel import known_funnel

pytestmark = pytest.mark.django_db


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def reader():
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])
    return bearer(secret)


@pytest.fixture
def writer():
    _key, secret = api_key_create(name="ads", scopes=["analytics:write"])
    return bearer(secret)


def test_quality_answers_the_known_numbers(client, reader):
    data = known_funnel()

    response = client.get(
        "/api/v1/analytics/quality",
        {"since": data.d1.isoformat(), "until": data.d2.isoformat(), "group_by": "source"},
        **reader,
    )

    assert response.status_code == 200, response.content
    rows = {row["value"]: row for row in response.json()["rows"]}
    google = rows["google"]
    assert (google["leads"], google["mqls"], google["sqls"], google["customers"]) == (2, 2, 1, 1)
    assert (google["mql_share"], google["sql_share"], google["customer_share"]) == (1.0, 0.5, 0.5)
    assert google["revenue"] == "1000.00"
    assert (google["median_days_to_sql"], google["median_days_to_customer"]) == (3, 10)
    assert google["average_fit_score"] is None  # no scores stored
    assert rows["bing"]["sql_share"] == 1.0
    assert response.json()["total"]["leads"] == 4


def test_pages_and_forms_answer_the_known_numbers(client, reader):
    data = known_form()
    day = data.day.isoformat()

    pages = client.get("/api/v1/analytics/pages", {"since": day, "until": day}, **reader)
    form = client.get("/api/v1/analytics/forms/signup", {"since": day, "until": day}, **reader)

    assert pages.status_code == 200, pages.content
    assert pages.json()["rows"] == [
        {
            "page": "/signup/",
            "views": 0,
            "unique_visitors": 0,
            "unique_visitors_approximate": False,
            "conversions": 3,
            "conversion_rate": None,
        }
    ]
    assert form.status_code == 200, form.content
    body = form.json()
    assert (body["views"], body["starts"], body["submissions"]) == (4, 4, 3)
    assert body["fields"][0] == {
        "field": "email",
        "label": "Email",
        "reached": 4,
        "left_here": 1,
        "error_rate": 0.25,
    }


def test_an_unknown_form_is_404(client, reader):
    response = client.get(
        "/api/v1/analytics/forms/nope", {"since": "2026-01-01", "until": "2026-01-02"}, **reader
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_spend_is_recorded_and_sending_it_again_changes_nothing(client, writer):
    body = {
        "rows": [
            {
                "date": "2026-11-02",
                "channel": "paid_search",
                "source": "google",
                "campaign": "bf",
                "amount": "120.50",
                "currency": "usd",
            },
            {"date": "2026-11-02", "source": "meta", "amount": "80", "currency": "USD"},
        ]
    }

    first = client.post("/api/v1/analytics/spend", body, content_type="application/json", **writer)
    again = client.post("/api/v1/analytics/spend", body, content_type="application/json", **writer)

    assert (first.status_code, again.status_code) == (200, 200), first.content
    assert first.json() == {"recorded": 2}
    assert sorted(Spend.objects.values_list("source", "amount")) == [
        ("google", 120.50),
        ("meta", 80),
    ]


def test_spend_in_another_currency_is_refused_and_nothing_is_stored(client, writer):
    body = {
        "rows": [
            {"date": "2026-11-02", "source": "google", "amount": "10", "currency": "USD"},
            {"date": "2026-11-02", "source": "meta", "amount": "10", "currency": "EUR"},
        ]
    }

    response = client.post(
        "/api/v1/analytics/spend", body, content_type="application/json", **writer
    )

    assert response.status_code == 400
    assert response.json()["code"] == "currency_refused"
    assert "EUR" in response.json()["message"] and "USD" in response.json()["message"]
    assert not Spend.objects.exists()


def test_spend_needs_the_write_scope(client, reader):
    body = {"rows": [{"date": "2026-11-02", "amount": "1", "currency": "USD"}]}

    response = client.post(
        "/api/v1/analytics/spend", body, content_type="application/json", **reader
    )

    assert response.status_code == 403
    assert not Spend.objects.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(["/quality", "/pages", "/forms/signup", "/forms/%00"]),
    params=st.dictionaries(
        st.sampled_from(["since", "until", "group_by", "window_days", "source", "page"]),
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(["2026-01-01", "1900-01-01", "9999-12-31", "-1", "form", "x" * 600]),
        ),
    ),
)
def test_hostile_query_strings_get_4xx_never_5xx(client, reader, path, params):
    response = client.get("/api/v1/analytics" + path, params, **reader)
    assert response.status_code < 500, response.content


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    row=st.fixed_dictionaries(
        {},
        optional={
            "date": st.one_of(st.text(max_size=12), st.sampled_from(["2026-01-01", "0000-00-00"])),
            "amount": st.one_of(
                st.text(max_size=20),
                st.integers(),
                st.floats(),
                st.sampled_from(["1e9", "-1", "9" * 13, "1.234", "NaN"]),
            ),
            "currency": st.one_of(st.text(max_size=5), st.sampled_from(["USD", "EUR", "usd"])),
            "source": st.text(max_size=300),
        },
    )
)
def test_hostile_spend_rows_get_4xx_never_5xx(client, writer, row):
    response = client.post(
        "/api/v1/analytics/spend", {"rows": [row]}, content_type="application/json", **writer
    )
    assert response.status_code < 500, response.content


@pytest.mark.parametrize(
    "path,params",
    [
        ("/pages", {"page": "/a\x00b"}),
        ("/quality", {"source": "g\x00"}),
        ("/funnel", {"campaign": "\x00"}),
        ("/forms/%00", {}),
    ],
)
def test_a_nul_in_a_filter_is_refused_not_a_server_error(client, reader, path, params):
    # PostgreSQL refuses NUL in any text: found by the hostile query strings above
    response = client.get(
        "/api/v1/analytics" + path,
        {"since": "2026-11-01", "until": "2026-11-02", **params},
        **reader,
    )
    assert response.status_code == 422, response.content
