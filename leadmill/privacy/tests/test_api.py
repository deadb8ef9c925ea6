"""``DELETE /api/v1/leads/{id}``: erasure through the API, with the ``privacy:write`` scope."""

from __future__ import annotations

import pytest

from leadmill.api.services import api_key_create
from leadmill.consent.selectors import is_suppressed
from leadmill.contacts.models import Contact
from leadmill.contacts.tests.factories import ContactFactory

from ..models import ErasureRecord

pytestmark = pytest.mark.django_db


def key(*scopes: str) -> dict:
    _key, secret = api_key_create(name="crm", scopes=list(scopes))
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_delete_erases_the_lead_suppresses_its_address_and_answers_with_the_audit(client):
    ana = ContactFactory(email="ana@example.com")

    response = client.delete(f"/api/v1/leads/{ana.pk}?reason=ticket%2012", **key("privacy:write"))

    assert response.status_code == 200
    body = response.json()
    record = ErasureRecord.objects.get()
    assert body == {
        "erasure_id": record.pk,
        "lead_id": ana.pk,
        "erased_at": body["erased_at"],
        "rows": {"contacts.contact": 1, "contacts.stagechange": 1},
    }
    assert (record.via, record.erased_by_name, record.reason) == ("api", "API key crm", "ticket 12")
    assert not Contact.objects.filter(pk=ana.pk).exists()
    assert is_suppressed(email="ana@example.com")


def test_a_key_without_the_privacy_scope_cannot_erase(client):
    ana = ContactFactory()

    response = client.delete(f"/api/v1/leads/{ana.pk}", **key("leads:write", "leads:read"))

    assert response.status_code == 403
    assert "privacy:write" in response.json()["message"]
    assert Contact.objects.filter(pk=ana.pk).exists()
    assert not ErasureRecord.objects.exists()


def test_erasing_a_lead_that_is_gone_is_a_404(client):
    auth = key("privacy:write")
    ana = ContactFactory()
    client.delete(f"/api/v1/leads/{ana.pk}", **auth)

    again = client.delete(f"/api/v1/leads/{ana.pk}", **auth)

    assert again.status_code == 404
    assert again.json()["code"] == "lead_not_found"
    assert ErasureRecord.objects.count() == 1
