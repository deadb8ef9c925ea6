"""The public pages a visitor sees: landing page, form, errors, thank-you page, offer email."""

import io
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.images import ImageFile
from django.template.loader import render_to_string
from wagtail.images.models import Image

from leadmill.contacts.models import Contact

from .. import tokens
from ..demo import demo_seed
from ..models import Form, Offer, Submission
from ..pages import LandingPage
from ..selectors import ThankYou
from .factories import OfferFactory, form_with_fields

pytestmark = pytest.mark.django_db

EBOOK_DESCRIPTION = (
    "Download the free Lead Generation Playbook: offers, landing pages, forms, consent and nurture, "
    "in 5 short chapters with checklists."
)


class Elements(HTMLParser):
    """Every start tag of a document as (tag, attributes), in order."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **wanted) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(k) == v for k, v in wanted.items())
        ]


@pytest.fixture
def ebook_page():
    demo_seed()
    return LandingPage.objects.get(slug="ebook", locale__language_code="en")


def aged_token(form: Form) -> str:
    """A render token as if the form had been shown ten seconds ago (past the minimum time)."""
    return tokens.render_token_make(form_id=form.pk, at=time.time() - 10)


def test_a_landing_page_has_its_title_description_open_graph_tags_and_canonical_link(
    client, ebook_page
):
    html = client.get("/ebook/").content.decode()
    elements = Elements(html)

    assert "<title>The Lead Generation Playbook</title>" in html
    assert elements.find("html")[0]["lang"] == "en"
    assert elements.find("meta", name="description") == [
        {"name": "description", "content": EBOOK_DESCRIPTION}
    ]
    assert {m["property"]: m["content"] for m in elements.find("meta") if "property" in m} == {
        "og:type": "website",
        "og:title": "The Lead Generation Playbook",
        "og:description": EBOOK_DESCRIPTION,
        "og:url": "http://testserver/ebook/",
    }
    assert elements.find("link", rel="canonical") == [
        {"rel": "canonical", "href": "http://testserver/ebook/"}
    ]
    assert elements.find("meta", name="robots") == []


def test_the_meta_description_falls_back_to_the_intro(client, ebook_page):
    ebook_page.search_description = ""
    ebook_page.save_revision().publish()

    elements = Elements(client.get("/ebook/").content.decode())

    intro = "A free e-book: how to turn visitors into qualified leads every day."
    assert elements.find("meta", name="description")[0]["content"] == intro
    assert elements.find("meta", property="og:description")[0]["content"] == intro


def test_the_social_image_is_an_absolute_open_graph_image(client, ebook_page):
    from PIL import Image as PillowImage

    buffer = io.BytesIO()
    PillowImage.new("RGB", (1600, 900), (59, 62, 198)).save(buffer, "PNG")
    ebook_page.og_image = Image.objects.create(
        title="Cover", file=ImageFile(buffer, name="cover.png")
    )
    ebook_page.save_revision().publish()

    elements = Elements(client.get("/ebook/").content.decode())

    og_image = elements.find("meta", property="og:image")[0]["content"]
    assert re.fullmatch(
        r"http://testserver/media/images/cover[\w.]*\.fill-1200x630[\w.]*\.png", og_image
    )
    assert elements.find("meta", property="og:image:width")[0]["content"] == "1200"
    assert elements.find("meta", name="twitter:card")[0]["content"] == "summary_large_image"


def test_every_field_has_a_label_and_consent_boxes_start_unticked(client, ebook_page):
    elements = Elements(client.get("/ebook/").content.decode())

    inputs = [
        a
        for t, a in elements.tags
        if t in ("input", "textarea", "select") and a.get("type") != "hidden"
    ]
    labelled = {a["for"] for a in elements.find("label")}

    assert [a["name"] for a in inputs] == [
        "website",
        "email",
        "first_name",
        "company_name",
        "consent_email-marketing",
    ]
    assert all(a["id"] in labelled for a in inputs)
    consent = elements.find("input", name="consent_email-marketing")[0]
    assert consent["type"] == "checkbox"
    assert "checked" not in consent
    assert (
        "Yes, send me marketing emails about Leadmill. I can unsubscribe at any time.</label>"
        in client.get("/ebook/").content.decode()
    )


def test_the_honeypot_is_hidden_from_people_and_assistive_technology(client, ebook_page):
    html = client.get("/ebook/").content.decode()

    honeypot = Elements(html).find("input", name="website")[0]
    wrapper = re.search(
        r'<div style="([^"]*)" aria-hidden="true">\s*<label for="lm-website">', html
    )

    assert (honeypot["tabindex"], honeypot["autocomplete"], honeypot["value"]) == ("-1", "off", "")
    assert wrapper is not None
    assert "position:absolute;left:-10000px" in wrapper.group(1)


def test_the_form_carries_the_page_and_its_source_into_the_post(client, ebook_page):
    html = client.get(
        "/ebook/?utm_source=instagram&utm_medium=social", HTTP_REFERER="https://l.instagram.com/"
    ).content.decode()
    hidden = {a["name"]: a["value"] for a in Elements(html).find("input", type="hidden")}
    form = Form.objects.get(slug="ebook")

    assert set(hidden) == {"_rt", "_page", "_url", "_referrer", "utm_source", "utm_medium"}
    assert hidden["_page"] == str(ebook_page.pk)
    assert hidden["_url"] == "http://testserver/ebook/?utm_source=instagram&utm_medium=social"
    assert hidden["_referrer"] == "https://l.instagram.com/"
    assert (hidden["utm_source"], hidden["utm_medium"]) == ("instagram", "social")
    assert 0 <= tokens.render_token_read(hidden["_rt"], form_id=form.pk).age < 5


def test_the_page_with_its_own_css_and_js_weighs_under_100_kb(client, ebook_page):
    html = client.get("/ebook/").content
    elements = Elements(html.decode())
    assets = [a["href"] for a in elements.find("link", rel="stylesheet")] + [
        a["src"] for a in elements.find("script") if a.get("src")
    ]

    sizes = [len(html)] + [
        Path(finders.find(url.removeprefix(settings.STATIC_URL))).stat().st_size for url in assets
    ]

    assert assets == [
        f"{settings.STATIC_URL}capture/landing.css",
        f"{settings.STATIC_URL}tracking/lm.js",
        f"{settings.STATIC_URL}capture/embed.js",  # the form's script: fresh token, proof-of-work
    ]
    assert sum(sizes) < 100 * 1024


def test_the_embed_script_stays_small():
    path = finders.find("capture/embed.js")

    assert path is not None
    assert Path(path).stat().st_size < 12 * 1024


def test_an_invalid_post_rerenders_the_page_with_400_a_clear_error_and_the_values_kept(
    client, ebook_page
):
    form = Form.objects.get(slug="ebook")
    render_token = aged_token(form)

    response = client.post(
        "/f/ebook/",
        data={
            "_rt": render_token,
            "_page": str(ebook_page.pk),
            "website": "",
            "_url": "http://testserver/ebook/?utm_source=instagram",
            "utm_source": "instagram",
            "email": "not-an-email",
            "first_name": "Ana",
            "company_name": "Acme & Co",
            "consent_email-marketing": "on",
        },
    )

    assert response.status_code == 400
    html = response.content.decode()
    elements = Elements(html)
    assert "<title>The Lead Generation Playbook</title>" in html
    summary = re.search(r'<div class="lm-summary" role="alert"[^>]*>(.*?)</div>', html, re.S).group(
        1
    )
    assert (
        '<a href="#id_email">Email: Enter a valid email address, like name@example.com.</a>'
        in summary
    )
    assert elements.find("input", name="email")[0] == {
        "type": "email",
        "name": "email",
        "value": "not-an-email",
        "autocomplete": "email",
        "inputmode": "email",
        "maxlength": "254",
        "required": None,
        "aria-invalid": "true",
        "aria-describedby": "id_email_error",
        "id": "id_email",
    }
    assert (
        '<ul class="lm-error" id="id_email_error"><li>Enter a valid email address, like name@example.com.</li></ul>'
        in html
    )
    assert elements.find("input", name="first_name")[0]["value"] == "Ana"
    assert elements.find("input", name="company_name")[0]["value"] == "Acme & Co"
    assert "checked" in elements.find("input", name="consent_email-marketing")[0]
    hidden = {a["name"]: a["value"] for a in elements.find("input", type="hidden")}
    assert hidden["_url"] == "http://testserver/ebook/?utm_source=instagram"
    assert hidden["utm_source"] == "instagram"
    assert hidden["_rt"] == render_token  # the time the person first saw the form is kept
    assert Submission.objects.get().status == Submission.Status.REJECTED
    assert not Contact.objects.exists()


def test_a_missing_email_says_what_to_enter(client, ebook_page):
    form = Form.objects.get(slug="ebook")

    response = client.post(
        "/f/ebook/",
        data={
            "_rt": aged_token(form),
            "_page": str(ebook_page.pk),
            "website": "",
            "email": "",
            "first_name": "Ana",
        },
    )

    assert response.status_code == 400
    assert (
        '<ul class="lm-error" id="id_email_error"><li>Enter your email address.</li></ul>'
        in response.content.decode()
    )


def test_a_form_posted_from_outside_a_landing_page_is_rerendered_on_its_own_page(client):
    form = form_with_fields(slug="newsletter", offer=OfferFactory(name="Weekly tips"))

    response = client.post(
        "/f/newsletter/", data={"_rt": aged_token(form), "website": "", "email": "x@"}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "<title>Weekly tips</title>" in html
    assert '<meta name="robots" content="noindex">' in html
    assert 'role="alert"' in html
    assert Elements(html).find("input", name="email")[0]["value"] == "x@"


def test_the_thank_you_page_gives_the_download_link_and_the_offer_message(client, ebook_page):
    form = Form.objects.get(slug="ebook")
    response = client.post(
        "/f/ebook/",
        data={
            "_rt": aged_token(form),
            "_page": str(ebook_page.pk),
            "website": "",
            "email": "ana@example.com",
        },
    )

    html = client.get(response["Location"]).content.decode()

    assert '<h1 id="thanks-title">Your e-book is ready</h1>' in html
    assert "Thank you! Here is your copy of the playbook." in html
    assert (
        f"We also emailed you this link. It works for {settings.LEADMILL_DOWNLOAD_LINK_HOURS} hours."
        in html
    )
    assert re.search(
        r'<a class="lm-button" href="/d/[^"]+" download>Download The Lead Generation Playbook</a>',
        html,
    )
    assert "Start with chapter 2, the one-page offer checklist" in html
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert 'property="og:' not in html


def test_the_thank_you_page_of_a_discount_shows_the_code_and_of_a_trial_its_link(client):
    offer = OfferFactory(
        name="Spring sale",
        kind=Offer.Kind.DISCOUNT,
        discount_code="SPRING-20",
        trial_url="https://app.example/signup",
    )
    form = form_with_fields(slug="spring", offer=offer)
    response = client.post(
        "/f/spring/", data={"_rt": aged_token(form), "website": "", "email": "ana@example.com"}
    )

    html = client.get(response["Location"]).content.decode()

    assert response["Location"].startswith("/f/spring/thanks/?s=")
    assert '<h1 id="thanks-title">Thank you!</h1>' in html
    assert '<span class="lm-code">SPRING-20</span>' in html
    assert (
        '<a class="lm-button" href="https://app.example/signup">Start your free trial</a>' in html
    )
    assert "/d/" not in html


def test_a_thank_you_link_without_a_valid_token_promises_nothing_and_leads_to_the_form(
    client, ebook_page
):
    html = client.get("/ebook/thanks/?s=forged").content.decode()

    assert '<h1 id="thanks-title">Your e-book is ready</h1>' in html
    assert "Here is your copy" not in html
    assert (
        "This page confirms a form that was sent. To receive the offer, fill in the form." in html
    )
    assert '<a class="lm-button" href="/ebook/">Go to the form</a>' in html
    assert "/d/" not in html


def test_the_privacy_checkbox_links_to_the_privacy_notice(client, ebook_page):
    html = client.get("/demo/").content.decode()
    notice = client.get("/privacy/")

    assert (
        '<a class="lm-notice" href="/privacy/" target="_blank" rel="noopener">Read the notice</a>'
        in html
    )
    assert notice.status_code == 200
    assert "We use your details only to send you what you asked for" in notice.content.decode()


def test_a_cta_block_links_to_the_tracked_short_link(client, ebook_page):
    html = client.get("/").content.decode()

    assert (
        '<p class="lm-cta"><a class="lm-button" href="/c/get-the-ebook/">Get the free e-book</a></p>'
        in html
    )


def test_the_offer_email_carries_the_absolute_download_link_the_code_and_the_message():
    offer = Offer(name="The Playbook", delivery_message="<p>Read chapter 2 first &amp; enjoy.</p>")
    contact = Contact(email="ana@example.com", first_name="Ana")
    delivery = ThankYou(
        offer=offer,
        download_url="https://leads.example/d/abc/",
        discount_code="SAVE10",
        message=offer.delivery_message,
    )
    context = {"contact": contact, "delivery": delivery, "offer": offer}

    html = render_to_string("capture/email/offer.html", context)
    text = render_to_string("capture/email/offer.txt", context)

    assert '<a href="https://leads.example/d/abc/"' in html
    assert "Hi Ana," in html and "SAVE10" in html and "Read chapter 2 first &amp; enjoy." in html
    assert f"The link works for {settings.LEADMILL_DOWNLOAD_LINK_HOURS} hours." in html
    assert text.splitlines()[:7] == [
        "Hi Ana,",
        "",
        "Thank you for your interest in The Playbook.",
        "",
        "Here is your download:",
        "https://leads.example/d/abc/",
        f"The link works for {settings.LEADMILL_DOWNLOAD_LINK_HOURS} hours.",
    ]
    assert "Your discount code: SAVE10" in text
    assert "Read chapter 2 first & enjoy." in text
    assert "<" not in text


def test_the_embed_answers_the_form_html_with_the_texts_its_script_needs(client):
    form = form_with_fields(slug="newsletter", allowed_origins="https://partner.example")

    response = client.get(
        "/f/newsletter/embed/?format=json",
        HTTP_ORIGIN="https://partner.example",
        HTTP_REFERER="https://partner.example/blog/?utm_source=newsletter",
    )

    body = response.json()
    elements = Elements(body["html"])
    assert response["Access-Control-Allow-Origin"] == "https://partner.example"
    assert body["action"] == "http://testserver/f/newsletter/"
    assert elements.find("input", name="_rt")[0]["value"] == body["render_token"]
    assert tokens.render_token_read(body["render_token"], form_id=form.pk) is not None
    assert (
        elements.find("input", name="_url")[0]["value"]
        == "https://partner.example/blog/?utm_source=newsletter"
    )
    assert elements.find("input", name="_page") == []
    form_tag = elements.find("form")[0]
    assert form_tag["data-lm-download"] == "Download now"
    assert "data-leadmill-embed" in form_tag


@pytest.mark.django_db(transaction=True)
def test_a_visitor_without_referrer_keeps_an_empty_first_touch_referrer(client, ebook_page):
    # Given a visitor who typed the page's address (no referrer)
    html = client.get("/ebook/").content.decode()
    hidden = {a["name"]: a["value"] for a in Elements(html).find("input", type="hidden")}
    form = Form.objects.get(slug="ebook")

    # When the form is posted from the page, whose address the browser sends as Referer
    hidden["_rt"] = aged_token(form)
    client.post(
        "/f/ebook/",
        data={**hidden, "website": "", "email": "ana@example.com"},
        HTTP_REFERER="http://testserver/ebook/",
    )
    from ..services import submissions_process

    submissions_process()

    # Then neither the submission nor the lead names the page as where the visitor came from
    submission = Submission.objects.get()
    contact = Contact.objects.get()
    assert (submission.referrer, submission.page_url) == ("", "http://testserver/ebook/")
    assert contact.first_referrer == ""
    assert contact.first_channel in ("", "direct")
