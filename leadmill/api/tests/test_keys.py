"""API keys: scopes (``all``), expiry, revocation, last use, the rate limit per key, and the
command that creates them."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from ..models import SCOPES, ApiKey
from ..services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_the_command_prints_the_key_alone_on_the_last_line_and_all_grants_every_scope(client):
    out = StringIO()

    call_command("apikey", "warehouse", "--scope", "all", stdout=out)

    secret = out.getvalue().rstrip("\n").splitlines()[-1]
    assert secret.startswith("lm_") and " " not in secret
    key = ApiKey.objects.get(name="warehouse")
    assert key.scopes == sorted(SCOPES)
    assert key.key_hash == ApiKey.hash(secret)
    assert client.get("/api/v1/leads/", **bearer(secret)).status_code == 200


def test_the_command_gives_an_expiry_in_days():
    out = StringIO()

    call_command("apikey", "temp", "--scope", "leads:read", "--expires-days", "7", stdout=out)

    key = ApiKey.objects.get(name="temp")
    assert dt.timedelta(days=6, hours=23) < key.expires_at - timezone.now() <= dt.timedelta(days=7)


def test_an_expired_key_answers_401_and_a_live_one_records_its_last_use(client):
    expired, expired_secret = api_key_create(
        name="old", scopes=["leads:read"], expires_at=timezone.now() + dt.timedelta(seconds=30)
    )
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    live, live_secret = api_key_create(name="new", scopes=["leads:read"])

    refused = client.get("/api/v1/leads/", **bearer(expired_secret))
    accepted = client.get("/api/v1/leads/", **bearer(live_secret))

    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    assert accepted.status_code == 200
    live.refresh_from_db()
    expired.refresh_from_db()
    assert live.last_used_at is not None
    assert expired.last_used_at is None


def test_a_revoked_key_answers_401(client):
    key, secret = api_key_create(name="crm", scopes=["leads:read"])
    api_key_revoke(key=key)

    response = client.get("/api/v1/leads/", **bearer(secret))

    assert response.status_code == 401


def test_last_use_is_written_at_most_once_a_minute(client, django_assert_num_queries):
    _key, secret = api_key_create(name="crm", scopes=["leads:read"])
    client.get("/api/v1/leads/", **bearer(secret))  # writes last_used_at

    with django_assert_num_queries(3):  # the key, its rate-limit counter, the page of leads
        client.get("/api/v1/leads/", **bearer(secret))


def test_a_key_past_its_rate_limit_gets_429_with_retry_after_and_rate_limit_headers(
    client, settings
):
    settings.LEADMILL_API_RATE_LIMIT = 3
    settings.LEADMILL_API_RATE_WINDOW = 60
    _key, secret = api_key_create(name="crm", scopes=["leads:read"])
    _other, other_secret = api_key_create(name="bi", scopes=["leads:read"])

    statuses = [client.get("/api/v1/leads/", **bearer(secret)).status_code for _ in range(3)]
    limited = client.get("/api/v1/leads/", **bearer(secret))
    other = client.get("/api/v1/leads/", **bearer(other_secret))

    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.json() == {
        "code": "rate_limited",
        "message": "Too many requests. Please wait and try again.",
        "errors": {},
    }
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert limited["RateLimit-Limit"] == "3"
    assert limited["RateLimit-Remaining"] == "0"
    assert limited["RateLimit-Reset"] == limited["Retry-After"]
    assert limited["RateLimit-Policy"] == "3;w=60"
    assert other.status_code == 200  # the limit is per key


def test_an_unknown_scope_and_no_scope_are_refused():
    from leadmill.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as unknown:
        api_key_create(name="x", scopes=["leads:delete"])
    with pytest.raises(ValidationFailed) as none:
        api_key_create(name="x", scopes=[])

    assert (unknown.value.code, none.value.code) == ("unknown_scope", "no_scope")
    assert not ApiKey.objects.exists()


def test_the_versioned_schema_and_docs_answer_beside_the_old_address(client):
    old = client.get("/api/openapi.json")
    versioned = client.get("/api/v1/openapi.json")
    docs = client.get("/api/v1/docs")

    assert (old.status_code, versioned.status_code, docs.status_code) == (200, 200, 200)
    assert versioned.json() == old.json()
    page = docs.content.decode()
    assert "/api/openapi.json" in page
    assert "cdn" not in page.lower() and "//unpkg" not in page  # assets served from here
    assert "429" in versioned.json()["paths"]["/api/v1/leads/"]["get"]["responses"]


def test_the_scope_labels_of_the_key_form_follow_the_readers_language():
    from django.utils import translation

    from ..admin_keys import ApiKeyForm

    with translation.override("pt-br"):
        labels = {scope: str(label) for scope, label in ApiKeyForm().fields["scopes"].choices}

    assert labels["leads:read"] == "leads:read: Ler leads e seus consentimentos"
    assert labels["segments:write"] == (
        "segments:write: Colocar leads em listas estáticas e tirá-los delas"
    )
