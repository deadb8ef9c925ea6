"""The weekly digest through a real SMTP server on loopback (aiosmtpd): last week's numbers
beside the week before, in each recipient's language, once per week."""

import datetime as dt

import pytest
from django.utils import timezone
from wagtail.users.models import UserProfile

from leadmill.contacts.models import Contact

from ..digest import digest_week, digests_send
from ..models import DigestRecipient
from .known_funnel import at, lead, page_view

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_digest_reaches_each_recipient_in_their_language_once_a_week(
    smtp_server, django_user_model
):
    # Given last week: 2 visitors and 2 leads (one google, one bing); the week before: 1 lead
    today = timezone.localdate()
    monday, sunday = digest_week(today)
    page_view("v1", at(monday, 9), "google", "paid_search")
    page_view("v2", at(monday, 10), "bing", "organic_search")
    lead("c1", at(monday, 9, 30), "google", "paid_search")
    lead("c2", at(sunday, 18), "bing", "organic_search")
    lead("c0", at(monday - dt.timedelta(days=3), 12), "google", "paid_search")
    # ... and three users: one in English, one in Portuguese, one not chosen
    ana = django_user_model.objects.create_user("ana", "ana@example.com", "pw")
    bruno = django_user_model.objects.create_user("bruno", "bruno@example.com", "pw")
    django_user_model.objects.create_user("carla", "carla@example.com", "pw")
    profile = UserProfile.get_for_user(bruno)
    profile.preferred_language = "pt-br"
    profile.save()
    DigestRecipient.objects.create(user=ana)
    DigestRecipient.objects.create(user=bruno)

    # When the weekly send runs
    sent = digests_send(today=today)

    # Then each chosen user got last week's numbers beside the week before, in their language
    assert sent == 2
    assert sorted(smtp_server.recipients) == [["ana@example.com"], ["bruno@example.com"]]
    [english] = smtp_server.to("ana@example.com")
    assert english["Subject"] == "Leadmill weekly: 2 leads (+100.0 %)"
    assert "Leads: 2 (week before 1, +100.0 %)" in smtp_server.text_of(english)
    assert "Visitors: 2 (week before 0, —)" in smtp_server.text_of(english)
    assert "Visitor-to-lead rate: 100.0 % (reference 2.9 %)." in smtp_server.text_of(english)
    [portuguese] = smtp_server.to("bruno@example.com")
    assert portuguese["Subject"] == "Leadmill semanal: 2 leads (+100,0 %)"
    assert "Visitantes: 2 (semana anterior 0, —)" in smtp_server.text_of(portuguese)
    assert "Taxa de visitante para lead: 100,0 % (referência 2,9 %)." in smtp_server.text_of(
        portuguese
    )
    assert Contact.objects.count() == 3

    # When it runs again the same week (a retry), nobody gets it twice
    assert digests_send(today=today) == 0
    assert len(smtp_server.messages) == 2
