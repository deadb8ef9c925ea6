"""The back office's erasure: "Delete (erase)" on the leads listing and "Delete" in the
lead page's "⋯" menu, offered to those with the erase permission only (privacy/admin_bulk.py,
wagtail_hooks.py); the erasures listing; the Admin group's permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import translation
from wagtail.users.models import UserProfile

from leadmill.consent.selectors import is_suppressed
from leadmill.contacts.models import Contact
from leadmill.contacts.tests.bulk import bulk_url
from leadmill.contacts.tests.factories import ContactFactory, UserFactory
from leadmill.core.setup import groups_ensure

from ..models import ErasureRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    client.force_login(user)
    return user


def marketer_who_may_change_leads(client):
    """A user who may change leads but not erase them (the Marketing group)."""
    groups_ensure()
    user = UserFactory(username="mia")
    user.groups.add(Group.objects.get(name="Marketing"))
    client.force_login(user)
    return user


def messages_of(response) -> list[str]:
    return [str(m).strip() for m in response.wsgi_request._messages]


def test_the_confirmation_says_what_erasure_does_and_erases_only_when_confirmed(client, boss):
    ana = ContactFactory(email="ana@example.com", first_name="Ana")

    page = client.get(bulk_url("erase", ana.pk))

    assert page.status_code == 200
    text = page.content.decode()
    assert "1 lead is selected." in text
    assert "This cannot be undone." in text
    assert "put on the suppression list" in text
    assert "Yes, erase them" in text
    assert Contact.objects.filter(pk=ana.pk).exists()  # looking is not erasing


def test_the_leads_confirmed_are_erased_with_the_reason_and_who(client, boss):
    ana = ContactFactory(email="ana@example.com")
    bia = ContactFactory(email="bia@example.com")
    caio = ContactFactory(email="caio@example.com")

    response = client.post(bulk_url("erase", ana.pk, bia.pk), {"reason": "requests of 7 Dec"})

    assert (response.status_code, response["Location"]) == (302, "/admin/leads/")
    assert list(Contact.objects.values_list("pk", flat=True)) == [caio.pk]
    assert messages_of(response) == ["2 of 2 leads erased; their addresses are suppressed."]
    records = ErasureRecord.objects.order_by("contact_id")
    assert [(r.contact_id, r.erased_by, r.reason, r.via) for r in records] == [
        (ana.pk, boss, "requests of 7 Dec", "back_office"),
        (bia.pk, boss, "requests of 7 Dec", "back_office"),
    ]
    assert (is_suppressed(email="ana@example.com"), is_suppressed(email="caio@example.com")) == (
        True,
        False,
    )


def test_a_user_without_the_erase_permission_is_not_offered_erasure_nor_allowed_it(client):
    ana = ContactFactory()
    marketer_who_may_change_leads(client)

    listing = client.get("/admin/leads/")
    lead_page = client.get(reverse("leads:inspect", args=[ana.pk]))
    attempt = client.post(bulk_url("erase", ana.pk), {"reason": ""})

    assert listing.status_code == lead_page.status_code == 200
    assert "Delete (erase)" not in listing.content.decode()
    assert "Change stage" in listing.content.decode()  # she has the other actions
    assert "/admin/bulk/contacts/contact/erase/" not in lead_page.content.decode()
    assert attempt.status_code in (302, 403)
    assert Contact.objects.filter(pk=ana.pk).exists()
    assert not ErasureRecord.objects.exists()


def test_the_admin_group_may_erase_leads_and_read_the_erasures(client):
    groups_ensure()
    admin_group = Group.objects.get(name="Admin")
    marketing = Group.objects.get(name="Marketing")
    erase = Permission.objects.get(codename="erase_contact")

    assert erase in admin_group.permissions.all()
    assert erase not in marketing.permissions.all()
    assert admin_group.permissions.filter(codename="view_erasurerecord").exists()


def test_the_lead_pages_menu_offers_delete_which_opens_the_confirmation_for_that_lead(client, boss):
    ana = ContactFactory(first_name="Ana")

    page = client.get(reverse("leads:inspect", args=[ana.pk])).content.decode()

    expected = bulk_url("erase", ana.pk).replace("&", "&amp;")
    assert expected in page


def test_the_erasures_listing_shows_the_audit_and_offers_no_edit(client, boss):
    ana = ContactFactory(email="ana@example.com")
    client.post(bulk_url("erase", ana.pk), {"reason": "asked by phone"})

    listing = client.get("/admin/erasures/")
    edit = client.get(f"/admin/erasures/edit/{ErasureRecord.objects.get().pk}/")

    assert listing.status_code == 200
    text = listing.content.decode()
    assert "asked by phone" in text
    assert "ana@example.com" not in text
    assert edit.status_code in (302, 403, 404)


def test_the_confirmation_reads_in_brazilian_portuguese(client, boss):
    ana = ContactFactory()
    profile = UserProfile.get_for_user(boss)
    profile.preferred_language = "pt-br"
    profile.save()

    with translation.override("pt-br"):
        page = client.get(bulk_url("erase", ana.pk)).content.decode()

    assert "Isto não pode ser desfeito." in page
    assert "Sim, apagar" in page
