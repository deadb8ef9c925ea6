"""The bulk action "enrol in a sequence" on the leads listing (nurture/admin_bulk.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from leadmill.contacts.tests.bulk import bulk_url
from leadmill.contacts.tests.factories import ContactFactory, UserFactory

from ..models import Enrollment
from .factories import EnrollmentFactory, SequenceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("boss", "boss@leadmill.test", "pw")
    )
    return client


def enrol_url(*ids) -> str:
    return bulk_url("enrol", *ids)


def test_the_leads_ticked_are_enrolled_and_one_enrolled_already_is_left_as_it_is(staff):
    # given a sequence Ana is enrolled in already
    sequence = SequenceFactory(name="Welcome")
    ana, bia = ContactFactory(), ContactFactory()
    EnrollmentFactory(sequence=sequence, contact=ana)

    # when Ana and Bia are enrolled from the listing
    response = staff.post(enrol_url(ana.pk, bia.pk), {"sequence": sequence.pk})

    # then Bia is enrolled, by the back office, and Ana keeps her one enrolment
    assert response.status_code == 302
    rows = Enrollment.objects.filter(sequence=sequence)
    assert sorted(rows.values_list("contact_id", flat=True)) == sorted([ana.pk, bia.pk])
    assert rows.get(contact=bia).source == "back office, in bulk (boss)"
    message = [str(m).strip() for m in response.wsgi_request._messages]
    assert message == [
        "1 of 2 leads enrolled in “Welcome” (the others are or were enrolled already)."
    ]


def test_an_inactive_sequence_is_named_as_such(staff):
    sequence = SequenceFactory(name="Drafted", is_active=False)
    lead = ContactFactory()

    response = staff.post(enrol_url(lead.pk), {"sequence": sequence.pk})

    message = str(list(response.wsgi_request._messages)[0])
    assert "nobody moves until you activate it" in message


def test_someone_who_may_change_leads_but_not_sequences_cannot_enrol(client):
    editor = UserFactory(is_staff=True)
    editor.user_permissions.add(
        *Permission.objects.filter(codename__in=["access_admin", "view_contact", "change_contact"])
    )
    client.force_login(editor)
    sequence, lead = SequenceFactory(), ContactFactory()

    response = client.post(enrol_url(lead.pk), {"sequence": sequence.pk})

    assert response.status_code == 302
    assert response.url == reverse("wagtailadmin_home")
    assert not Enrollment.objects.exists()


def test_the_listing_does_not_offer_enrolling_to_someone_who_may_not(client):
    editor = UserFactory(is_staff=True)
    editor.user_permissions.add(
        *Permission.objects.filter(codename__in=["access_admin", "view_contact", "change_contact"])
    )
    client.force_login(editor)
    ContactFactory()

    html = client.get("/admin/leads/").content.decode()

    assert "/admin/bulk/contacts/contact/change_stage/" in html
    assert "/admin/bulk/contacts/contact/enrol/" not in html
