"""GET /api/v1/leads/: filters, the opaque cursor, and one query per page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadmill.contacts.models import Contact

from ..selectors import cursor_decode, cursor_encode
from ..services import api_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth():
    _key, secret = api_key_create(name="bi", scopes=["leads:read"])
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def emails(response):
    assert response.status_code == 200, response.content
    return [lead["email"] for lead in response.json()["items"]]


def test_paging_walks_every_lead_once_while_leads_are_written(client, auth):
    for n in range(5):
        Contact.objects.create(email=f"lead{n}@example.com")

    seen, after = [], ""
    while True:
        page = client.get(f"/api/v1/leads/?limit=2&after={after}", **auth)
        seen += emails(page)
        if len(seen) == 2:  # a lead written while the client pages comes on a later page
            Contact.objects.create(email="late@example.com")
            Contact.objects.filter(email="lead0@example.com").update(first_name="Changed")
        after = page.json()["next"]
        if after is None:
            break

    assert seen == [f"lead{n}@example.com" for n in range(5)] + ["late@example.com"]


def test_filters_combine(client, auth):
    Contact.objects.create(email="hot@example.com", temperature="hot", first_source="google")
    Contact.objects.create(email="cold@example.com", temperature="cold", first_source="google")
    Contact.objects.create(email="mql@example.com", temperature="hot", lifecycle_stage="mql")

    hot_google = client.get("/api/v1/leads/?temperature=hot&source=google", **auth)
    mql = client.get("/api/v1/leads/?stage=mql", **auth)
    unknown_stage = client.get("/api/v1/leads/?stage=nope", **auth)
    future = client.get("/api/v1/leads/?created_since=2999-01-01T00:00:00Z", **auth)

    assert emails(hot_google) == ["hot@example.com"]
    assert emails(mql) == ["mql@example.com"]
    assert unknown_stage.status_code == 422
    assert list(unknown_stage.json()["errors"]) == ["stage"]
    assert emails(future) == []


def test_the_query_count_does_not_grow_with_the_page_size(client, auth):
    for n in range(60):
        Contact.objects.create(email=f"lead{n}@example.com")
    client.get("/api/v1/leads/?limit=1", **auth)  # the key's last use is written once

    counts = []
    for limit in (1, 50):
        with CaptureQueriesContext(connection) as queries:
            assert len(emails(client.get(f"/api/v1/leads/?limit={limit}", **auth))) == limit
        counts.append(len(queries))

    assert counts[0] == counts[1] == 3  # the key, its rate-limit counter, the page


def test_every_cursor_the_schema_allows_decodes_to_a_64_bit_id():
    assert cursor_decode("zzzzzzzzzzzz") < 2**63
    assert cursor_decode(cursor_encode(123456789)) == 123456789
    assert cursor_encode(0) == "0"


def test_score_ranges_include_their_ends_and_leave_out_leads_never_scored(client, auth):
    from django.utils import timezone

    from leadmill.scoring.models import ContactScore

    now = timezone.now()
    low, high = (Contact.objects.create(email=f"{n}@example.com") for n in ("low", "high"))
    Contact.objects.create(email="unscored@example.com")
    ContactScore.objects.create(contact=low, fit_score=10, engagement_at=now, updated_at=now)
    ContactScore.objects.create(
        contact=high, fit_score=40, engagement_score=20, engagement_at=now, updated_at=now
    )

    assert emails(client.get("/api/v1/leads/?fit_min=40", **auth)) == ["high@example.com"]
    assert emails(client.get("/api/v1/leads/?fit_max=10", **auth)) == ["low@example.com"]
    assert emails(client.get("/api/v1/leads/?total_min=50", **auth)) == ["high@example.com"]
    assert emails(client.get("/api/v1/leads/?engagement_max=5", **auth)) == ["low@example.com"]
    assert client.get("/api/v1/leads/?predictive_min=2", **auth).status_code == 422
