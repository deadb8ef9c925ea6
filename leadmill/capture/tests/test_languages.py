"""Pages, forms, offers and emails in several languages (ADR 43): a visitor gets the live
translation they ask for, served in its own language; the lead's language is the page's."""

import re
import time

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st
from wagtail.models import Locale

from leadmill.consent.models import Consent
from leadmill.contacts.models import Contact

from .. import tokens
from ..demo import demo_seed
from ..models import Form, Offer, Submission
from ..pages import LandingPage


def _lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode())[1]


def _title(response) -> str:
    return re.search(r"<title>(.*?)</title>", response.content.decode())[1]


def _form_action(response) -> str:
    return re.search(r'<form[^>]+action="([^"]+)"', response.content.decode())[1]


@pytest.mark.django_db
def test_a_brazilian_visitor_gets_the_brazilian_translation_at_the_same_url(client):
    demo_seed()

    response = client.get("/ebook/", HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9,en;q=0.5")

    assert response.status_code == 200
    assert (_lang(response), response["Content-Language"]) == ("pt-br", "pt-br")
    assert _title(response) == "O Playbook de Geração de Leads"
    assert _form_action(response) == "/f/ebook-pt-br/"
    assert 'aria-current="page">Português Brasileiro</span>' in response.content.decode()
    assert "Sim, quero receber e-mails de marketing sobre o Leadmill." in (
        response.content.decode()
    )


@pytest.mark.django_db
def test_an_english_visitor_gets_english_and_a_lang_link_chooses_the_translation(client):
    demo_seed()

    english = client.get("/ebook/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    asked = client.get("/ebook/?lang=pt-br", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    back = client.get("/ebook/?lang=en", HTTP_ACCEPT_LANGUAGE="pt-BR")

    assert (_lang(english), _title(english), _form_action(english)) == (
        "en",
        "The Lead Generation Playbook",
        "/f/ebook/",
    )
    assert (_lang(asked), _form_action(asked)) == ("pt-br", "/f/ebook-pt-br/")
    assert (_lang(back), _form_action(back)) == ("en", "/f/ebook/")
    assert '<link rel="alternate" hreflang="pt-BR" href="http://testserver/ebook/?lang=pt-br">' in (
        english.content.decode()
    )


@pytest.mark.django_db
def test_a_page_without_the_visitors_language_is_served_in_its_own(client):
    demo_seed()
    home = LandingPage.objects.get(slug="leadmill")
    page = LandingPage(title="Spring webinar", slug="spring", intro="Only in English")
    home.add_child(instance=page)
    page.save_revision().publish()

    response = client.get("/spring/", HTTP_ACCEPT_LANGUAGE="pt-BR")

    # Found although the Brazilian tree has no such page, and not labelled as Portuguese.
    assert response.status_code == 200
    assert (_lang(response), _title(response)) == ("en", "Spring webinar")
    assert "lm-languages" not in response.content.decode()


@pytest.mark.django_db
def test_a_translated_form_copied_in_the_admin_gets_its_own_post_url():
    demo_seed()
    form = Form.objects.get(slug="ebook")
    spanish, _created = Locale.objects.get_or_create(language_code="es")

    copy = form.copy_for_translation(spanish)
    copy.save()

    assert (copy.slug, copy.translation_key, [f.kind for f in copy.fields.all()]) == (
        "ebook-es",
        form.translation_key,
        ["email", "first_name", "company_name"],
    )


@pytest.mark.django_db(transaction=True)
def test_a_lead_from_the_brazilian_page_gets_the_thanks_and_the_email_in_portuguese(
    client,
    smtp_server,
    settings,
):
    demo_seed()
    form = Form.objects.get(slug="ebook-pt-br")
    page = LandingPage.objects.get(slug="ebook", locale__language_code="pt-br")

    # An English browser that followed the Brazilian link: the content decides the language.
    response = client.post(
        "/f/ebook-pt-br/",
        data={
            "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
            "_page": str(page.pk),
            "website": "",
            "email": "joana@example.com",
            "first_name": "Joana",
            "consent_email-marketing": "on",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    thanks = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 303
    assert re.fullmatch(r"/ebook/thanks/\?lang=pt-br&s=[^&]+", response["Location"])
    assert (_lang(thanks), _title(thanks)) == (
        "pt-br",
        "Seu e-book está pronto · O Playbook de Geração de Leads",
    )
    assert Submission.objects.get().status == Submission.Status.ACCEPTED
    assert Contact.objects.get().language == "pt-br"
    # The proof is the text she read: the purpose's Portuguese version.
    consent = Consent.objects.select_related("purpose_text").get()
    assert (consent.granted, consent.purpose_text.language, consent.purpose_text.text) == (
        True,
        "pt-br",
        "Sim, quero receber e-mails de marketing sobre o Leadmill. "
        "Posso cancelar a inscrição a qualquer momento.",
    )
    [message] = smtp_server.messages
    offer = Offer.objects.get(locale__language_code="pt-br", kind=Offer.Kind.DOWNLOAD)
    assert smtp_server.recipients == [["joana@example.com"]]
    assert (
        message["Subject"] == offer.email_subject == "Seu exemplar do Playbook de Geração de Leads"
    )
    html = message.get_body(("html",)).get_content()
    assert '<html lang="pt-br">' in html
    link = re.search(r'href="' + re.escape(settings.BASE_URL) + r'(/d/[^"]+)"', html)[1]
    assert client.get(link).status_code == 200  # the translation's file, behind the same check


LANGUAGE_FUZZ = fuzz_settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
@LANGUAGE_FUZZ
@given(
    lang=st.one_of(st.text(max_size=300), st.sampled_from(["pt-BR", "PT-br", "pt", "en-GB", "zz"])),
    accept=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200),
)
def test_any_lang_parameter_or_accept_language_serves_a_page_never_an_error(
    client, demo_pages, lang, accept
):
    response = client.get("/ebook/", {"lang": lang}, HTTP_ACCEPT_LANGUAGE=accept)

    assert response.status_code == 200
    assert _lang(response) in {"en", "pt-br"}
    assert response["Content-Language"] == _lang(response)


@pytest.fixture
def demo_pages():
    demo_seed()
