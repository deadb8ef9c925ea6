"""The leads API with scoped keys."""

import pytest
from django.core.management import call_command

from leadmill.contacts.models import Contact

from ..models import ApiKey
from ..services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_a_write_key_upserts_a_lead_by_email(client):
    _key, secret = api_key_create(name="crm", scopes=["leads:write"])

    first = client.post(
        "/api/v1/leads/",
        {"email": "Ana@Example.com", "first_name": "Ana", "utm_source": "crm"},
        content_type="application/json",
        **bearer(secret),
    )
    second = client.post(
        "/api/v1/leads/",
        {"email": "ana@example.com", "role": "CTO"},
        content_type="application/json",
        **bearer(secret),
    )

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["lead"]["email"] == "ana@example.com"
    assert second.json()["created"] is False
    contact = Contact.objects.get()
    assert (contact.first_name, contact.role, contact.first_source) == ("Ana", "CTO", "crm")


def test_a_country_sent_as_a_name_is_stored_as_its_iso_code(client):
    _key, secret = api_key_create(name="crm", scopes=["leads:write"])

    response = client.post(
        "/api/v1/leads/",
        {"email": "ana@example.com", "country": "Alemanha"},
        content_type="application/json",
        **bearer(secret),
    )

    assert response.status_code == 201
    assert Contact.objects.values_list("country", "country_as_written").get() == ("DE", "")


def test_a_read_key_cannot_write_and_gets_403(client):
    _key, secret = api_key_create(name="bi", scopes=["leads:read"])

    response = client.post(
        "/api/v1/leads/",
        {"email": "a@example.com"},
        content_type="application/json",
        **bearer(secret),
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "leads:write" in response.json()["message"]
    assert not Contact.objects.exists()


def test_no_key_a_wrong_key_or_a_revoked_key_gets_401(client):
    key, secret = api_key_create(name="old", scopes=["leads:read"])
    api_key_revoke(key=key)

    assert client.get("/api/v1/leads/").status_code == 401
    assert client.get("/api/v1/leads/", **bearer("lm_deadbeef_nope")).status_code == 401
    assert client.get("/api/v1/leads/", **bearer(secret)).status_code == 401


def test_invalid_input_gets_a_stable_error_code(client):
    _key, secret = api_key_create(name="crm", scopes=["leads:write"])

    bad_email = client.post(
        "/api/v1/leads/", {"email": "nope"}, content_type="application/json", **bearer(secret)
    )
    nothing = client.post("/api/v1/leads/", {}, content_type="application/json", **bearer(secret))

    assert bad_email.status_code == 400
    assert bad_email.json()["code"] == "email_invalid"
    assert nothing.json()["code"] == "identity_missing"


def test_a_read_key_lists_and_gets_leads(client):
    _key, secret = api_key_create(name="bi", scopes=["leads:read"])
    ana = Contact.objects.create(email="ana@example.com")
    Contact.objects.create(email="bo@example.com")

    listed = client.get("/api/v1/leads/?email=ANA@example.com", **bearer(secret))
    first = client.get("/api/v1/leads/?limit=1", **bearer(secret))
    page = client.get(f"/api/v1/leads/?limit=1&after={first.json()['next']}", **bearer(secret))
    one = client.get(f"/api/v1/leads/{ana.pk}", **bearer(secret))
    missing = client.get("/api/v1/leads/999999", **bearer(secret))

    assert [lead["email"] for lead in listed.json()["items"]] == ["ana@example.com"]
    assert [lead["email"] for lead in first.json()["items"]] == ["ana@example.com"]
    assert [lead["email"] for lead in page.json()["items"]] == ["bo@example.com"]
    assert page.json()["next"] is None
    assert one.json()["id"] == ana.pk
    assert missing.status_code == 404


def test_the_key_is_stored_only_as_a_hash_and_the_command_prints_it_once(capsys):
    call_command("apikey", "zapier", "--scope", "leads:read")

    printed = capsys.readouterr().out.splitlines()[-1]
    key = ApiKey.objects.get()
    assert printed.startswith(f"lm_{key.prefix}_")
    assert key.key_hash == ApiKey.hash(printed)
    assert printed not in str(ApiKey.objects.values())


def test_the_openapi_schema_is_published(client):
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    assert "/api/v1/leads/" in response.json()["paths"]
