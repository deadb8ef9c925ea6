"""The offer email through a real SMTP server on loopback (aiosmtpd)."""

import json
import socket
import time

import pytest
from aiosmtpd.controller import Controller
from django.core.files.base import ContentFile

from .. import tokens
from ..models import Offer
from .factories import OfferFactory, form_with_fields


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode())
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


@pytest.mark.django_db(transaction=True)
def test_the_offer_email_reaches_a_real_smtp_server_with_a_working_download_link(
    client, smtp_server, settings
):
    offer = OfferFactory(kind=Offer.Kind.DOWNLOAD, email_subject="Your playbook")
    offer.file.save("playbook.pdf", ContentFile(b"%PDF-1.4 playbook"))
    form = form_with_fields(offer=offer)
    payload = {
        "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
        "email": "ana@example.com",
    }

    response = client.post("/f/ebook/", data=json.dumps(payload), content_type="application/json")

    assert response.status_code == 201
    assert len(smtp_server.messages) == 1
    sender, recipients, content = smtp_server.messages[0]
    assert recipients == ["ana@example.com"]
    assert "Subject: Your playbook" in content
    link = next(word for word in content.split() if word.startswith(f"{settings.BASE_URL}/d/"))
    download = client.get(link.removeprefix(settings.BASE_URL).rstrip(".,\"'<>"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 playbook"
