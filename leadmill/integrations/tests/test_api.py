"""/api/v1/webhook-endpoints: the secret is answered once; scopes are enforced."""

import pytest

from leadmill.api.services import api_key_create
from leadmill.integrations.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
BASE = "/api/v1/webhook-endpoints"


def bearer(*scopes):
    _key, secret = api_key_create(name="dev", scopes=list(scopes))
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_create_answers_the_secret_once_and_the_rest_never_shows_it(client, monkeypatch):
    from leadmill.integrations import tasks

    monkeypatch.setattr(tasks, "deliveries_send_task", lambda: None)
    auth = bearer("webhooks:read", "webhooks:write")
    created = client.post(
        BASE,
        {"url": "https://93.184.215.14/hook", "events": ["lead.created"]},
        content_type="application/json",
        **auth,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] == WebhookEndpoint.objects.get().secret

    listed = client.get(BASE, **auth).json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]
    patched = client.patch(
        f"{BASE}/{body['id']}", {"enabled": False}, content_type="application/json", **auth
    )
    assert patched.json()["enabled"] is False
    assert client.post(f"{BASE}/{body['id']}/test", **auth).status_code == 202
    deliveries = client.get(f"{BASE}/{body['id']}/deliveries", **auth).json()
    assert [d["event_type"] for d in deliveries] == ["webhook.test"]
    assert client.delete(f"{BASE}/{body['id']}", **auth).status_code == 204
    assert not WebhookDelivery.objects.exists()


def test_a_private_url_is_400_an_unknown_event_422_and_a_read_key_may_not_create(client, settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False
    auth = bearer("webhooks:write")
    private = client.post(
        BASE, {"url": "http://127.0.0.1/x"}, content_type="application/json", **auth
    )
    unknown = client.post(
        BASE,
        {"url": "https://93.184.215.14/hook", "events": ["lead.nope"]},
        content_type="application/json",
        **auth,
    )
    read_only = client.post(
        BASE,
        {"url": "https://93.184.215.14/hook"},
        content_type="application/json",
        **bearer("webhooks:read"),
    )
    assert (private.status_code, unknown.status_code, read_only.status_code) == (400, 422, 403)
    assert private.json()["code"] == "url_refused"
    assert not WebhookEndpoint.objects.exists()
