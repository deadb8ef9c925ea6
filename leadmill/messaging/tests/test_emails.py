"""Rendering a marketing email: personalisation, layout, plain text, tracked links, headers."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from leadmill.contacts.tests.factories import ContactFactory

from .. import tokens
from ..email_text import html_to_text
from ..emails import email_template_errors, render_message, template_source_errors
from .factories import EmailTemplateFactory, MessageFactory

pytestmark = pytest.mark.django_db

BASE = "https://leads.example.com"


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.BASE_URL = BASE
    settings.LEADMILL_EMAIL_SENDER_ADDRESS = "Example Ltd, 1 Main Street, Lisbon"
    settings.LEADMILL_EMAIL_UNSUBSCRIBE_MAILTO = ""


def rendered(body="<p>Hi</p>", subject="Hello", contact=None, **template):
    template = EmailTemplateFactory(body=body, subject=subject, **template)
    message = MessageFactory(template=template, contact=contact or ContactFactory(first_name="Ana"))
    return message, render_message(message=message, template=template, contact=message.contact)


def test_personalisation_fills_fields_and_a_missing_name_falls_back_to_the_default():
    contact = ContactFactory(
        first_name="", last_name="Silva", company_name="Acme", custom={"plan": "pro"}
    )

    _message, email = rendered(
        subject='Hi {{ first_name|default:"there" }}',
        body="<p>{{ last_name }} at {{ company_name }} on {{ plan }}; {{ full_name }}</p>",
        contact=contact,
    )

    assert email.subject == "Hi there"
    assert "<p>Silva at Acme on pro; Silva</p>" in email.html


def test_an_unknown_variable_renders_empty_and_contact_values_are_escaped():
    contact = ContactFactory(first_name="<b>Ana</b>")

    _message, email = rendered(
        body="<p>[{{ no_such_field }}] {{ first_name }}</p>", contact=contact
    )

    assert "<p>[] &lt;b&gt;Ana&lt;/b&gt;</p>" in email.html


def test_the_subject_and_the_text_part_are_not_html_escaped():
    contact = ContactFactory(first_name="Ana & Rui", company_name="O'Brien <Ltd>")

    _message, email = rendered(
        subject="For {{ first_name }}", body="<p>{{ company_name }}</p>", contact=contact
    )

    assert email.subject == "For Ana & Rui"
    assert email.text.startswith("O'Brien <Ltd>\n")
    assert "<p>O&#x27;Brien &lt;Ltd&gt;</p>" in email.html


def test_the_body_sits_in_the_layout_with_preheader_unsubscribe_preferences_and_sender_address():
    message, email = rendered(body="<p>Body text</p>", preheader="Read this first")
    token = tokens.unsubscribe_token(message.pk)

    assert "max-width:600px" in email.html
    assert "<p>Body text</p>" in email.html
    assert "Read this first" in email.html
    assert f'<a href="{BASE}/e/u/{token}"' in email.html
    assert f'<a href="{BASE}/e/p/{token}"' in email.html
    assert "Example Ltd, 1 Main Street, Lisbon" in email.html
    assert f'<img src="{BASE}/e/o/{tokens.open_token(message.pk)}.gif"' in email.html


def test_every_http_link_points_to_the_signed_click_redirect_of_exactly_that_url():
    message, email = rendered(
        body='<p><a href="https://example.com/a?x=1&amp;y=2">A</a> <a href="mailto:x@example.com">M</a></p>'
    )

    links = re.findall(r'href="([^"]+)"', email.html)
    click = next(link for link in links if "/e/c/" in link)
    parts = urlsplit(click.replace("&amp;", "&"))
    token = parts.path.rsplit("/", 1)[1]
    url = parse_qs(parts.query)["u"][0]
    assert url == "https://example.com/a?x=1&y=2"
    assert tokens.click_token_read(token, url) == message.pk
    assert tokens.click_token_read(token, "https://evil.example/") is None
    assert "mailto:x@example.com" in links


def test_links_to_our_own_unsubscribe_and_marked_links_are_not_tracked():
    _message, email = rendered(
        body='<a href="{{ unsubscribe_url }}">Out</a> <a data-leadmill-notrack href="https://example.com/raw">Raw</a>'
    )

    assert "/e/c/" not in email.html
    assert 'href="https://example.com/raw"' in email.html


def test_root_relative_links_are_made_absolute_before_tracking():
    message, email = rendered(body='<a href="/offer/">Offer</a>')

    url = f"{BASE}/offer/"
    assert f"u={url.replace(':', '%3A').replace('/', '%2F')}" in email.html
    assert f"Offer ({url})" in email.text


def test_the_plain_text_part_keeps_links_as_text_and_url_and_ends_with_the_unsubscribe_link():
    message, email = rendered(
        body='<h1>News</h1><p>Read <a href="https://example.com/guide">the guide</a>.</p><ul><li>one</li></ul>'
    )

    assert email.text.startswith("News\n\nRead the guide (https://example.com/guide).\n\n- one")
    assert f"Unsubscribe: {BASE}/e/u/{tokens.unsubscribe_token(message.pk)}" in email.text
    assert "<h1>" not in email.text


def test_headers_carry_the_message_id_and_one_click_unsubscribe(settings):
    settings.LEADMILL_EMAIL_UNSUBSCRIBE_MAILTO = "unsubscribe@example.com"

    message, email = rendered()

    token = tokens.unsubscribe_token(message.pk)
    assert email.headers["Message-ID"] == f"<{message.message_id}>"
    assert email.headers["List-Unsubscribe"] == (
        f"<{BASE}/e/u/{token}>, <mailto:unsubscribe@example.com?subject=unsubscribe%20{token}>"
    )
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_sender_is_the_template_s_or_the_default(settings):
    settings.DEFAULT_FROM_EMAIL = "Leadmill <leads@example.com>"

    _m, own = rendered(
        from_name="Ana at Acme", from_email="ana@acme.example", reply_to="sales@acme.example"
    )
    _m, default = rendered()

    assert own.from_email == "Ana at Acme <ana@acme.example>"
    assert own.reply_to == ("sales@acme.example",)
    assert default.from_email == "Leadmill <leads@example.com>"


def test_an_edited_template_is_compiled_again():
    template = EmailTemplateFactory(subject="First")
    message = MessageFactory(template=template)
    render_message(message=message, template=template, contact=message.contact)

    template.subject = "Second"
    template.save()

    assert (
        render_message(message=message, template=template, contact=message.contact).subject
        == "Second"
    )


def test_a_preview_without_a_contact_uses_the_sample_lead():
    template = EmailTemplateFactory(subject="Hi {{ first_name }}")

    email = render_message(
        message=MessageFactory.build(template=template), template=template, contact=None
    )

    assert email.subject == "Hi Ana"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{% include 'secrets.html' %}", "include"),
        ("{{ first_name|safe }}", "safe"),
        ("{% autoescape off %}{{ first_name }}{% endautoescape %}", "autoescape"),
        ("{% load static %}", "load"),
        ("{% if %}x{% endif %}", "if"),
        ("{{ first_name", "not closed"),
    ],
)
def test_template_syntax_errors_are_explained_to_the_marketer(source, fragment):
    errors = template_source_errors(source)

    assert len(errors) == 1
    assert errors[0].startswith("Personalisation error: ")
    assert fragment in errors[0]


def test_a_valid_template_has_no_errors_and_errors_are_given_per_field():
    assert (
        template_source_errors(
            "{% if first_name %}Hi {{ first_name|title }}{% else %}Hello{% endif %}"
        )
        == []
    )
    assert list(
        email_template_errors(subject="ok", preheader="{% bad %}", body="{{ x|nope }}")
    ) == ["preheader", "body"]


def test_html_to_text_skips_styles_and_keeps_image_alt_text():
    text = html_to_text(
        "<style>p{color:red}</style><p>Hello&nbsp;<img alt='logo'></p><a href='https://x.example'>https://x.example</a>"
    )

    assert text == "Hello\xa0logo\n\nhttps://x.example"


def test_a_tag_the_plain_text_part_would_lose_is_refused_too():
    errors = email_template_errors(
        subject="s", preheader="", body="<!-- {% if first_name %} --><p>x</p>{% endif %}"
    )

    assert list(errors) == ["body"]


def test_a_lead_gets_the_emails_translation_in_its_language_and_others_the_source():
    from wagtail.models import Locale

    source = EmailTemplateFactory(subject="Start with chapter 2", body="<p>Hello</p>")
    portuguese, _created = Locale.objects.get_or_create(language_code="pt-br")
    EmailTemplateFactory(
        subject="Comece pelo capítulo 2",
        body="<p>Olá</p>",
        locale=portuguese,
        translation_key=source.translation_key,
    )
    joana = MessageFactory(template=source, contact=ContactFactory(language="pt-BR"))
    ana = MessageFactory(template=source, contact=ContactFactory(language="de"))

    in_portuguese = render_message(message=joana, template=source, contact=joana.contact)
    as_written = render_message(message=ana, template=source, contact=ana.contact)

    assert (in_portuguese.subject, "<p>Olá</p>" in in_portuguese.html) == (
        "Comece pelo capítulo 2",
        True,
    )
    assert '<html lang="pt-br"' in in_portuguese.html
    assert (as_written.subject, "<p>Hello</p>" in as_written.html) == ("Start with chapter 2", True)


def test_a_lead_in_the_emails_own_language_costs_no_query_for_its_translation(
    django_assert_num_queries,
):
    # Given an email in the site's language, read once (its locale's language is kept)
    source = EmailTemplateFactory(subject="Start with chapter 2", body="<p>Hello</p>")
    first, second = (
        MessageFactory(template=source, contact=ContactFactory(language=language))
        for language in ("en", "")
    )
    render_message(message=first, template=source, contact=first.contact)

    # When leads in that language (or in none) get it, no query looks for a translation
    with django_assert_num_queries(0):
        again = render_message(message=first, template=source, contact=first.contact)
        unset = render_message(message=second, template=source, contact=second.contact)

    # Then they read the email as written
    assert (again.subject, unset.subject) == ("Start with chapter 2", "Start with chapter 2")
