"""Settings → Webhooks: endpoints are added with a secret, a test event is owed, a failed
delivery is replayed; a marketer may not do any of it."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from leadmill.core.setup import groups_ensure
from leadmill.integrations import services
from leadmill.integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def user_in(group: str, username: str = "boss"):
    groups_ensure()
    user = get_user_model().objects.create_user(username=username, password="x")
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def admin(client):
    user = get_user_model().objects.create_superuser(username="root", password="x")
    client.force_login(user)
    return client


def test_an_endpoint_added_in_the_admin_gets_a_secret_and_its_events(admin, settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False
    response = admin.post(
        "/admin/webhooks/new/",
        {"url": "https://93.184.215.14/hook", "events": ["lead.created"], "enabled": "on"},
    )
    assert response.status_code == 302, response.content[:2000]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.events == ["lead.created"]
    assert admin.get("/admin/webhooks/").status_code == 200


def test_a_private_address_is_refused_by_the_form(admin, settings):
    settings.LEADMILL_WEBHOOK_ALLOW_PRIVATE = False
    response = admin.post("/admin/webhooks/new/", {"url": "http://127.0.0.1/hook"})
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


def test_send_test_event_and_replay_failed_since(admin, settings, monkeypatch):
    from leadmill.integrations import tasks

    monkeypatch.setattr(tasks, "deliveries_send_task", lambda: None)
    endpoint = services.endpoint_create(url="https://93.184.215.14/hook", events=[])
    assert admin.get(f"/admin/webhooks/{endpoint.pk}/test/").status_code == 200
    assert admin.post(f"/admin/webhooks/{endpoint.pk}/test/").status_code == 302
    delivery = WebhookDelivery.objects.get()
    assert delivery.event_type == "webhook.test"

    WebhookDelivery.objects.update(status=DeliveryStatus.FAILED)
    response = admin.post(f"/admin/webhooks/{endpoint.pk}/replay-failed/", {"hours": "1"})
    assert response.status_code == 302
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING
    log = admin.get(f"/admin/webhook-deliveries/?endpoint={endpoint.pk}")
    assert log.status_code == 200
    assert delivery.webhook_id.encode() in log.content


def test_a_marketer_may_not_send_or_replay(client):
    endpoint = services.endpoint_create(url="https://93.184.215.14/hook", events=[])
    client.force_login(user_in("Marketing"))
    assert client.post(f"/admin/webhooks/{endpoint.pk}/test/").status_code in (302, 403)
    assert not WebhookDelivery.objects.exists()


def test_rotate_secret_shows_the_new_secret_once_and_the_old_keeps_signing(admin):
    endpoint = services.endpoint_create(url="https://93.184.215.14/hook", events=[])
    old = endpoint.secret
    listing = admin.get("/admin/webhooks/")
    assert f"/admin/webhooks/{endpoint.pk}/rotate-secret/".encode() in listing.content
    assert admin.get(f"/admin/webhooks/{endpoint.pk}/rotate-secret/").status_code == 200

    response = admin.post(f"/admin/webhooks/{endpoint.pk}/rotate-secret/", {"grace_hours": "6"})

    endpoint.refresh_from_db()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]  # the admin's never_cache
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret.encode() in response.content
    assert old.encode() not in response.content
    assert endpoint.secret.encode() not in admin.get("/admin/webhooks/").content


def test_a_marketer_may_not_rotate_a_secret(client):
    endpoint = services.endpoint_create(url="https://93.184.215.14/hook", events=[])
    secret = endpoint.secret
    client.force_login(user_in("Marketing"))
    assert client.post(f"/admin/webhooks/{endpoint.pk}/rotate-secret/").status_code in (302, 403)
    endpoint.refresh_from_db()
    assert endpoint.secret == secret
