"""The offer email through a real SMTP server on loopback (aiosmtpd)."""

import json
import time

import pytest
from django.core.files.base import ContentFile

from .. import tokens
from ..models import Offer
from .factories import OfferFactory, form_with_fields


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
    [message] = smtp_server.messages
    assert smtp_server.recipients == [["ana@example.com"]]
    assert message["Subject"] == "Your playbook"
    text = smtp_server.text_of(message)
    link = next(word for word in text.split() if word.startswith(f"{settings.BASE_URL}/d/"))
    download = client.get(link.removeprefix(settings.BASE_URL).rstrip(".,\"'<>"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 playbook"
