"""POST /api/v1/sequences/{id}/enrollments (leadmill/api/nurture.py)."""

import pytest

from leadmill.api.services import api_key_create
from leadmill.contacts.tests.factories import ContactFactory

from ..models import Enrollment
from .engine_factories import sequence_with, step

pytestmark = pytest.mark.django_db


def bearer(scopes):
    _key, secret = api_key_create(name="crm", scopes=scopes)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def enrol(client, sequence_id, body, scopes=("sequences:write",)):
    return client.post(
        f"/api/v1/sequences/{sequence_id}/enrollments",
        body,
        content_type="application/json",
        **bearer(list(scopes)),
    )


def test_leads_are_enrolled_by_id_and_by_email_and_the_unknown_are_reported(client):
    sequence = sequence_with(step("wait", days=1))
    by_id, by_email, already = (
        ContactFactory(),
        ContactFactory(email="ana@example.com"),
        ContactFactory(),
    )
    Enrollment.objects.create(sequence=sequence, contact=already, enrolled_at=sequence.created_at)

    response = enrol(
        client,
        sequence.pk,
        {
            "contact_ids": [by_id.pk, already.pk, 987654],
            "emails": ["Ana@Example.com", "nobody@example.com"],
        },
    )

    assert response.status_code == 200
    assert response.json() == {
        "enrolled": 2,
        "skipped": 1,
        "unknown_contact_ids": [987654],
        "unknown_emails": ["nobody@example.com"],
    }
    assert set(
        Enrollment.objects.filter(source="api (crm)").values_list("contact_id", flat=True)
    ) == {by_id.pk, by_email.pk}


def test_a_key_without_the_nurture_scope_gets_403_and_enrols_nobody(client):
    sequence, contact = sequence_with(step("wait", days=1)), ContactFactory()

    response = enrol(client, sequence.pk, {"contact_ids": [contact.pk]}, scopes=("leads:write",))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "sequences:write" in response.json()["message"]
    assert not Enrollment.objects.exists()


def test_an_unknown_sequence_is_404_and_an_empty_body_400(client):
    sequence = sequence_with(step("wait", days=1))

    missing = enrol(client, 987654, {"contact_ids": [1]})
    empty = enrol(client, sequence.pk, {})

    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert (empty.status_code, empty.json()["code"]) == (400, "nothing_to_enrol")
