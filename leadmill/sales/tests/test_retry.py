"""Leads that found no available rep get an owner on a later try."""

import pytest
from django.core import mail

from leadmill.contacts.models import LifecycleStage
from leadmill.contacts.tests.factories import ContactFactory, UserFactory

from ..models import SalesLead
from ..services import lead_assign, leads_unowned_assign
from ..tasks import unowned_leads_assign
from .factories import SalesRepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BASE_URL = "https://leads.example"
    settings.LEADMILL_NEW_LEAD_ALERT_EMAIL = "alerts@example.com"


def test_a_lead_left_without_an_owner_is_assigned_once_a_rep_is_back(
    django_capture_on_commit_callbacks,
):
    rep = SalesRepFactory(user=UserFactory(username="ana", email="ana@example.com"), capacity=1)
    with django_capture_on_commit_callbacks(execute=True):
        lead_assign(contact=ContactFactory(lifecycle_stage=LifecycleStage.MQL))
        waiting = lead_assign(contact=ContactFactory(lifecycle_stage=LifecycleStage.MQL)).lead
    assert waiting.owner is None
    rep.capacity = 2
    rep.save()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assigned = leads_unowned_assign()

    assert assigned == 1
    assert SalesLead.objects.get(pk=waiting.pk).owner.username == "ana"
    assert [message.to for message in mail.outbox] == [["ana@example.com"]]  # alert sent once


def test_the_retry_leaves_closed_leads_and_contacts_no_longer_mql_alone():
    back_to_lead = ContactFactory(lifecycle_stage=LifecycleStage.LEAD)
    closed = ContactFactory(lifecycle_stage=LifecycleStage.MQL)
    for contact, closed_at in ((back_to_lead, None), (closed, "2026-01-02T00:00Z")):
        SalesLead.objects.create(
            contact=contact,
            mql_at="2026-01-01T00:00Z",
            sla_due_at="2026-01-01T04:00Z",
            closed_at=closed_at,
        )
    SalesRepFactory(user=UserFactory(username="bruno"))

    unowned_leads_assign.call_local()

    assert list(SalesLead.objects.values_list("owner", flat=True)) == [None, None]
