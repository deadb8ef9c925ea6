"""The bulk action "add to a static list" on the leads listing (segments/admin_bulk.py)."""

from __future__ import annotations

import pytest

from leadmill.contacts.tests.bulk import bulk_url
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.models import OutboxEvent

from ..models import SegmentMember
from .factories import SegmentFactory, StaticSegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    return client


def add_to_list_url(*ids) -> str:
    return bulk_url("add_to_list", *ids)


def members(segment) -> set[int]:
    return set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True))


def test_the_leads_ticked_join_the_list_and_those_on_it_stay_once(staff):
    # given a list that has Ana already, and Bia who is not on it
    ana, bia = ContactFactory(), ContactFactory()
    vip = StaticSegmentFactory(name="VIP", members=[ana])
    OutboxEvent.objects.all().delete()

    # when both are added
    response = staff.post(add_to_list_url(ana.pk, bia.pk), {"segment": vip.pk})

    # then both are on it once, and the one fact says Bia joined
    assert response.status_code == 302
    assert members(vip) == {ana.pk, bia.pk}
    assert [
        e.payload["contact_ids"] for e in OutboxEvent.objects.filter(name="StaticListChanged")
    ] == [[bia.pk]]
    message = [str(m).strip() for m in response.wsgi_request._messages]
    assert message == ["1 of 2 leads added to “VIP” (the others were on it already)."]


def test_only_static_lists_are_offered(staff):
    lead = ContactFactory()
    StaticSegmentFactory(name="Static VIP")
    dynamic = SegmentFactory(name="Dynamic Brazil")

    page = staff.get(add_to_list_url(lead.pk)).content.decode()
    refused = staff.post(add_to_list_url(lead.pk), {"segment": dynamic.pk})

    assert "Static VIP" in page and "Dynamic Brazil" not in page
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    assert not SegmentMember.objects.exists()


def test_no_list_chosen_says_what_to_do(staff):
    lead = ContactFactory()

    response = staff.post(add_to_list_url(lead.pk), {"segment": ""})

    assert "Choose the static list to add the leads to." in response.content.decode()
