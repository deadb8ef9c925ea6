"""Links in an email to a Brazilian lead keep the language (ADR 53): a tracked click on a link
to a landing page or to a call to action lands on the Brazilian page, through a real SMTP
server on loopback; a link elsewhere is left as written."""

import html as html_lib
import re
import time

import pytest

from leadmill.contacts.models import Contact
from leadmill.messaging.models import EmailTemplate
from leadmill.messaging.sending import messages_send_due
from leadmill.messaging.services import message_queue

from .. import tokens
from ..demo import demo_seed
from ..models import Form
from ..pages import LandingPage

pytestmark = pytest.mark.django_db(transaction=True)


def lead_from(client, *, form_slug: str, page_locale: str, address: str) -> Contact:
    form = Form.objects.get(slug=form_slug)
    page = LandingPage.objects.get(slug="ebook", locale__language_code=page_locale)
    response = client.post(
        f"/f/{form_slug}/",
        data={
            "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
            "_page": str(page.pk),
            "website": "",
            "email": address,
            "consent_email-marketing": "on",
        },
    )
    assert response.status_code == 303
    return Contact.objects.get(email=address)


def newsletter_to(inbox, contact: Contact, settings) -> tuple[list[str], str]:
    """The tracked links of the HTML part and the plain-text part of the newsletter."""
    template = EmailTemplate.objects.create(
        name="Newsletter",
        subject="News",
        body=(
            f'<p><a href="{settings.BASE_URL}/ebook/">The e-book</a> · '
            f'<a href="{settings.BASE_URL}/c/get-the-ebook/">Get it</a> · '
            '<a href="https://example.org/blog/">Our blog</a></p>'
        ),
    )
    message_queue(contact_id=contact.pk, template_id=template.pk)
    messages_send_due()
    parsed = inbox.to(contact.email)[-1]
    html = parsed.get_body(("html",)).get_content()
    links = [
        html_lib.unescape(link)
        for link in re.findall(r'href="([^"]+)"', html)
        if link.startswith(f"{settings.BASE_URL}/e/c/")
    ]
    return links, parsed.get_body(("plain",)).get_content()


def test_a_brazilian_lead_s_tracked_links_land_on_the_brazilian_pages(
    client,
    smtp_server,
    settings,
):
    demo_seed()
    joana = lead_from(
        client, form_slug="ebook-pt-br", page_locale="pt-br", address="joana@example.com"
    )
    assert joana.language == "pt-br"

    links, text = newsletter_to(smtp_server, joana, settings)
    # An English browser follows them: the link decides the language, not the browser.
    redirects = [
        client.get(link.removeprefix(settings.BASE_URL), HTTP_ACCEPT_LANGUAGE="en")["Location"]
        for link in links
    ]

    assert redirects == [
        f"{settings.BASE_URL}/ebook/?lang=pt-br",
        f"{settings.BASE_URL}/c/get-the-ebook/?lang=pt-br",
        "https://example.org/blog/",
    ]
    cta = client.get("/c/get-the-ebook/?lang=pt-br", HTTP_ACCEPT_LANGUAGE="en")
    assert cta["Location"] == "/ebook/?lang=pt-br"
    page = client.get(cta["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert re.search(r'<html lang="([^"]+)"', page.content.decode())[1] == "pt-br"
    assert f"{settings.BASE_URL}/ebook/?lang=pt-br" in text
    assert "https://example.org/blog/" in text and "blog/?lang" not in text


def test_an_english_lead_s_links_are_left_as_written(
    client,
    smtp_server,
    settings,
):
    demo_seed()
    ana = lead_from(client, form_slug="ebook", page_locale="en", address="ana@example.com")

    links, text = newsletter_to(smtp_server, ana, settings)
    redirects = [client.get(link.removeprefix(settings.BASE_URL))["Location"] for link in links]

    assert redirects == [
        f"{settings.BASE_URL}/ebook/",
        f"{settings.BASE_URL}/c/get-the-ebook/",
        "https://example.org/blog/",
    ]
    assert "lang=" not in text
