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


@pytest.fixture
def held_sender(monkeypatch):
    from leadmill.integrations import tasks

    monkeypatch.setattr(tasks, "deliveries_send_task", lambda: None)


def owed(endpoint, status, *, created_at=None) -> WebhookDelivery:
    from leadmill.integrations.handlers import webhook_id_of

    payload = {"type": "webhook.test", "version": 1, "data": {"n": WebhookDelivery.objects.count()}}
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        webhook_id=webhook_id_of(payload),
        event_type="webhook.test",
        payload=payload,
        status=status,
        attempts=9 if status == "failed" else 1,
        next_attempt_at=None,
    )
    if created_at is not None:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=created_at)
    return delivery


def test_replay_one_delivery_queues_it_now_with_its_webhook_id(client, held_sender):
    from leadmill.integrations import services

    auth = bearer("webhooks:write")
    endpoint = services.endpoint_create(url="https://93.184.215.14/hook", events=[])
    other = services.endpoint_create(url="https://93.184.215.14/other", events=[])
    failed = owed(endpoint, "failed")

    answer = client.post(f"{BASE}/{endpoint.pk}/deliveries/{failed.pk}/replay", **auth)
    elsewhere = client.post(f"{BASE}/{other.pk}/deliveries/{failed.pk}/replay", **auth)
    missing = client.post(f"{BASE}/{endpoint.pk}/deliveries/999999/replay", **auth)
    read_only = client.post(
        f"{BASE}/{endpoint.pk}/deliveries/{failed.pk}/replay", **bearer("webhooks:read")
    )

    assert answer.status_code == 202, answer.content
    assert answer.json()["webhook_id"] == failed.webhook_id
    assert answer.json()["status"] == "pending"
    failed.refresh_from_db()
    assert (failed.status, failed.leased_until) == ("pending", None)
    assert failed.next_attempt_at is not None
    assert (elsewhere.status_code, missing.status_code, read_only.status_code) == (404, 404, 403)
    assert elsewhere.json()["code"] == "not_found"


def test_replay_failed_since_a_time_queues_only_those(client, held_sender):
    import datetime as dt

    from django.utils import timezone

    from leadmill.integrations import services

    auth = bearer("webhooks:write")
    endpoint = services.endpoint_create(url="https://93.184.215.14/hook", events=[])
    old = owed(endpoint, "failed", created_at=timezone.now() - dt.timedelta(days=2))
    recent = owed(endpoint, "failed")
    fine = owed(endpoint, "delivered")
    since = (timezone.now() - dt.timedelta(hours=1)).isoformat()

    answer = client.post(
        f"{BASE}/{endpoint.pk}/deliveries/replay-failed",
        {"since": since},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="replay-1",
        **auth,
    )
    WebhookDelivery.objects.filter(pk=recent.pk).update(status="failed")
    again = client.post(
        f"{BASE}/{endpoint.pk}/deliveries/replay-failed",
        {"since": since},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="replay-1",
        **auth,
    )
    not_done_again = WebhookDelivery.objects.get(pk=recent.pk).status
    far_past = client.post(
        f"{BASE}/{endpoint.pk}/deliveries/replay-failed",
        {"since": "0001-01-01T00:00:00+14:00"},
        content_type="application/json",
        **auth,
    )

    assert (answer.status_code, answer.json()) == (200, {"replayed": 1})
    # The same key and body: the first answer again, the work not done twice.
    assert (again.status_code, again.json()) == (200, {"replayed": 1})
    assert again["Idempotent-Replayed"] == "true"
    assert not_done_again == "failed"
    assert (far_past.status_code, far_past.json()) == (200, {"replayed": 2})
    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert statuses == {old.pk: "pending", recent.pk: "pending", fine.pk: "delivered"}


def test_rotate_secret_answers_the_new_one_once_and_both_sign_for_the_grace(client, held_sender):
    import datetime as dt

    from django.utils import timezone

    from leadmill.integrations import services

    auth = bearer("webhooks:write")
    endpoint = services.endpoint_create(url="https://93.184.215.14/hook", events=[])
    old = endpoint.secret

    answer = client.post(f"{BASE}/{endpoint.pk}/rotate-secret?grace_hours=2", **auth)
    too_long = client.post(f"{BASE}/{endpoint.pk}/rotate-secret?grace_hours=1000", **auth)

    assert answer.status_code == 200, answer.content
    endpoint.refresh_from_db()
    assert answer.json()["secret"] == endpoint.secret != old
    assert endpoint.previous_secret == old
    left = endpoint.previous_secret_until - timezone.now()
    assert dt.timedelta(hours=1, minutes=59) < left <= dt.timedelta(hours=2)
    assert too_long.status_code == 422
    assert "secret" not in client.get(f"{BASE}/{endpoint.pk}", **bearer("webhooks:read")).json()
