"""The bulk action "assign an owner" on the leads listing (sales/admin_bulk.py)."""

from __future__ import annotations

import pytest

from leadmill.contacts.models import Contact
from leadmill.contacts.tests.bulk import bulk_url
from leadmill.contacts.tests.factories import ContactFactory, UserFactory
from leadmill.core.models import OutboxEvent

from .factories import SalesLeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    return client


def assign_url(*ids) -> str:
    return bulk_url("assign_owner", *ids)


def test_the_leads_ticked_get_the_owner_through_the_one_owner_service(staff):
    # given a lead handed to sales already and one that is not, and a salesperson
    rita = UserFactory(username="rita", first_name="Rita")
    handed = SalesLeadFactory().contact
    fresh = ContactFactory()
    OutboxEvent.objects.all().delete()

    # when both are given to Rita
    response = staff.post(assign_url(handed.pk, fresh.pk), {"owner": rita.pk})

    # then both are hers, and the sales lead's change is announced (OwnerAssigned)
    assert response.status_code == 302
    assert set(Contact.objects.values_list("owner_id", flat=True)) == {rita.pk}
    assigned = OutboxEvent.objects.filter(name="OwnerAssigned")
    assert [event.payload["contact_id"] for event in assigned] == [handed.pk]
    message = [str(m).strip() for m in response.wsgi_request._messages]
    assert message == ["2 of 2 leads now owned by Rita (the others were theirs already)."]


def test_a_lead_that_is_theirs_already_is_not_changed_again(staff):
    rita = UserFactory(username="rita")
    lead = ContactFactory(owner=rita)
    OutboxEvent.objects.all().delete()

    staff.post(assign_url(lead.pk), {"owner": rita.pk})

    assert not OutboxEvent.objects.exists()


def test_an_inactive_user_is_not_offered(staff):
    gone = UserFactory(username="gone", is_active=False)
    lead = ContactFactory()

    response = staff.post(assign_url(lead.pk), {"owner": gone.pk})

    assert "Select a valid choice" in response.content.decode()
    assert Contact.objects.get().owner_id is None
