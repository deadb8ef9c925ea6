"""GET /api/v1/owners/: the sales reps, for routing."""

from __future__ import annotations

import pytest

from leadmill.sales.models import SalesRep

from ..services import api_key_create

pytestmark = pytest.mark.django_db


def test_the_reps_are_listed_a_page_at_a_time_with_the_owners_scope(client, django_user_model):
    ana = django_user_model.objects.create_user("ana", "ana@leadmill.test", first_name="Ana")
    bo = django_user_model.objects.create_user("bo", "bo@leadmill.test")
    django_user_model.objects.create_user("not-a-rep")
    SalesRep.objects.create(user=ana)
    SalesRep.objects.create(user=bo, available=False)
    _key, secret = api_key_create(name="router", scopes=["owners:read"])
    _other, other_secret = api_key_create(name="bi", scopes=["leads:read"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    first = client.get("/api/v1/owners/?limit=1", **auth)
    second = client.get(f"/api/v1/owners/?limit=1&after={first.json()['next']}", **auth)
    refused = client.get("/api/v1/owners/", HTTP_AUTHORIZATION=f"Bearer {other_secret}")

    assert first.json()["items"] == [
        {
            "user_id": ana.pk,
            "username": "ana",
            "name": "Ana",
            "email": "ana@leadmill.test",
            "available": True,
        }
    ]
    assert [(o["username"], o["available"]) for o in second.json()["items"]] == [("bo", False)]
    assert second.json()["next"] is None
    assert refused.status_code == 403
