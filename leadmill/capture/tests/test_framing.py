"""Who may frame what (CSP ``frame-ancestors``, leadmill.core.csp): a form's iframe page and
every page its post leads to are frameable by the form's allowed origins, and nothing else
is frameable at all; through Django's handler and through the production WSGI application
(the lean form-post path)."""

import time
from urllib.parse import urlencode

import pytest

from leadmill.core.tests.wsgi_client import WsgiClient

from .. import tokens
from ..demo import demo_seed
from ..models import Form
from ..selectors import form_definitions_clear
from .factories import form_with_fields

pytestmark = pytest.mark.django_db

PARTNER = "https://partner.example"
FRAMEABLE_BY_PARTNER = f"frame-ancestors 'self' {PARTNER}"


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part for part in (p.strip() for p in policy.split(";")) if part}


@pytest.fixture(params=["django", "wsgi"])
def web(request, client):
    """Django's test client, or the same with form posts through leadmill.wsgi.application."""
    return client if request.param == "django" else WsgiClient(client, paths=("/f/ebook/",))


def form_post(web, form: Form, **values):
    data = {
        "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
        "website": "",
        **values,
    }
    return web.post(
        f"/f/{form.slug}/",
        data=urlencode(data),
        content_type="application/x-www-form-urlencoded",
        HTTP_ORIGIN="http://testserver",
    )


def test_the_iframe_page_is_frameable_by_the_forms_sites_only(client):
    form_with_fields(allowed_origins=f"{PARTNER}\nhttps://shop.example:8443/")

    response = client.get("/f/ebook/embed/")

    assert response.status_code == 200
    assert (
        directives(response)["frame-ancestors"]
        == f"{FRAMEABLE_BY_PARTNER} https://shop.example:8443"
    )
    assert not response.has_header("X-Frame-Options")


def test_the_thank_you_page_a_framed_post_leads_to_is_frameable_by_the_forms_sites(web):
    # given a form a partner embeds in an iframe
    form = form_with_fields(allowed_origins=PARTNER)

    # when the iframe's form is sent, and the frame follows the redirect
    posted = form_post(web, form, email="ana@example.com")
    thanks = web.get(posted["Location"])

    # then the thank-you page may show in the partner's frame, and only there
    assert posted.status_code == 303
    assert thanks.status_code == 200
    assert directives(thanks)["frame-ancestors"] == FRAMEABLE_BY_PARTNER
    assert not thanks.has_header("X-Frame-Options")


def test_the_form_with_its_errors_is_frameable_by_the_forms_sites(web):
    form = form_with_fields(allowed_origins=PARTNER)

    response = form_post(web, form, email="not-an-email")

    assert response.status_code == 400
    assert b"Enter a valid email address" in response.content
    assert directives(response)["frame-ancestors"] == FRAMEABLE_BY_PARTNER
    assert not response.has_header("X-Frame-Options")


def test_an_error_message_of_the_post_is_frameable_by_the_forms_sites(web, settings):
    # given a post refused before it is read (too large)
    settings.LEADMILL_MAX_SUBMISSION_BYTES = 10
    form = form_with_fields(allowed_origins=PARTNER)

    response = form_post(web, form, email="ana@example.com")

    assert response.status_code == 413
    assert directives(response)["frame-ancestors"] == FRAMEABLE_BY_PARTNER
    assert not response.has_header("X-Frame-Options")


def test_a_form_whose_sites_change_is_framed_by_its_new_sites_once_it_is_read_again(web):
    # given a post framed by the partner (its header now reused for that list of sites)
    form = form_with_fields(allowed_origins=PARTNER)
    assert directives(form_post(web, form, email="x"))["frame-ancestors"] == FRAMEABLE_BY_PARTNER

    # when the form's sites change and the post reads the form again
    form.allowed_origins = "https://shop.example"
    form.save()
    form_definitions_clear()  # what LEADMILL_FORM_CACHE_SECONDS does within seconds
    response = form_post(web, form, email="x")

    # then the new sites, and only they, may frame it
    assert directives(response)["frame-ancestors"] == "frame-ancestors 'self' https://shop.example"


def test_a_malformed_allowed_origin_never_reaches_the_header(client):
    # given a form whose list has a typo, a path, and a line that would add a directive
    form_with_fields(
        allowed_origins=f"{PARTNER}\nwww.nope.example\nhttps://a.example/blog\n"
        "https://evil.example; script-src *\nhttp://[::1]:8080"
    )

    response = client.get("/f/ebook/embed/")

    assert directives(response)["frame-ancestors"] == f"{FRAMEABLE_BY_PARTNER} http://[::1]:8080"
    assert "script-src *" not in response["Content-Security-Policy"]


def test_other_pages_are_frameable_by_nobody(client):
    # given the demo's landing page, whose form is embeddable by a partner
    demo_seed()
    Form.objects.filter(slug="ebook").update(allowed_origins=PARTNER)

    response = client.get("/ebook/")

    assert response.status_code == 200
    assert directives(response)["frame-ancestors"] == "frame-ancestors 'none'"
    assert response["X-Frame-Options"] == "DENY"
