"""The weekly digest through a real SMTP server on loopback (aiosmtpd): last week's numbers
beside the week before, in each recipient's language, once per week."""

import datetime as dt
import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone
from wagtail.users.models import UserProfile

from leadmill.contacts.models import Contact

from ..digest import digest_week, digests_send
from ..models import DigestRecipient
from .known_funnel import at, lead, page_view

pytestmark = pytest.mark.django_db(transaction=True)


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.content, policy=policy.default),
            )
        )
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    inbox = Inbox()
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


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
    inbox = {recipients[0]: message for recipients, message in smtp_server.messages}
    assert set(inbox) == {"ana@example.com", "bruno@example.com"}
    english = inbox["ana@example.com"]
    assert english["Subject"] == "Leadmill weekly: 2 leads (+100.0 %)"
    assert "Leads: 2 (week before 1, +100.0 %)" in text_of(english)
    assert "Visitors: 2 (week before 0, —)" in text_of(english)
    assert "Visitor-to-lead rate: 100.0 % (reference 2.9 %)." in text_of(english)
    portuguese = inbox["bruno@example.com"]
    assert portuguese["Subject"] == "Leadmill semanal: 2 leads (+100,0 %)"
    assert "Visitantes: 2 (semana anterior 0, —)" in text_of(portuguese)
    assert "Taxa de visitante para lead: 100,0 % (referência 2,9 %)." in text_of(portuguese)
    assert Contact.objects.count() == 3

    # When it runs again the same week (a retry), nobody gets it twice
    assert digests_send(today=today) == 0
    assert len(smtp_server.messages) == 2
