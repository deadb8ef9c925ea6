"""``POST /f/<slug>/`` served ahead of Django's full handler (leadmill.wsgi.application)."""

import json
import time
from urllib.parse import urlencode

import pytest
from django.db import OperationalError

from leadmill.core.tests.wsgi_client import spy, wsgi_call

from .. import services, tokens
from ..demo import demo_seed
from ..models import Form, Submission
from ..pages import LandingPage
from ..wsgi import FormPostHandler
from .factories import form_with_fields

pytestmark = pytest.mark.django_db

FORM_TYPE = "application/x-www-form-urlencoded"


def post(form: Form, content_type=FORM_TYPE, **values) -> tuple[str, dict[str, str], bytes]:
    data = {
        "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
        "website": "",
        **values,
    }
    body = json.dumps(data) if content_type == "application/json" else urlencode(data)
    return wsgi_call(
        f"/f/{form.slug}/", body.encode(), content_type=content_type, HTTP_ACCEPT="application/json"
    )


def test_a_form_post_is_served_by_the_lean_handler_with_the_sites_headers(monkeypatch):
    handled = []
    monkeypatch.setattr(FormPostHandler, "__call__", spy(FormPostHandler.__call__, handled))
    form = form_with_fields()

    status, headers, content = post(form, email="Ana@Example.com", first_name="Ana")

    assert status == "201 Created"
    assert handled == ["/f/ebook/"]
    assert json.loads(content)["status"] == "accepted"
    submission = Submission.objects.get()
    assert (submission.status, submission.values["email"]) == (
        Submission.Status.RECEIVED,
        "ana@example.com",
    )
    assert headers["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware
    # an invalid post's HTML page may be framed by Leadmill and the form's allowed sites only
    assert "frame-ancestors 'self'" in [
        part.strip() for part in headers["Content-Security-Policy"].split(";")
    ]
    assert "X-Frame-Options" not in headers
    assert headers["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


@pytest.mark.parametrize(
    "language,slug,title,error",
    [
        (
            "pt-br",
            "ebook-pt-br",
            "O Playbook de Geração de Leads",
            "Informe um endereço de e-mail válido, como nome@exemplo.com.",
        ),
        # A Brazilian browser on the English page: the page's language, not the browser's
        # (ADR 43: the content decides; the visitor's language chooses between translations).
        (
            "en",
            "ebook",
            "The Lead Generation Playbook",
            "Enter a valid email address, like name@example.com.",
        ),
    ],
)
def test_an_invalid_post_from_a_landing_page_is_rerendered_in_the_pages_language(
    language, slug, title, error
):
    demo_seed()
    page = LandingPage.objects.get(slug="ebook", locale__language_code=language)
    form = Form.objects.get(slug=slug)
    body = urlencode(
        {
            "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
            "_page": str(page.pk),
            "website": "",
            "email": "not-an-email",
            "first_name": "Ana",
        }
    ).encode()

    status, headers, content = wsgi_call(f"/f/{slug}/", body, content_type=FORM_TYPE)

    assert status == "400 Bad Request"
    html = content.decode()
    assert f"<title>{title}</title>" in html
    assert f'<html lang="{language}"' in html
    assert error in html  # Accept-Language: pt-BR
    assert 'value="Ana"' in html
    assert headers["Content-Language"] == language
    assert Submission.objects.get().status == Submission.Status.REJECTED


def test_an_unreachable_database_answers_503_and_stores_nothing(monkeypatch):
    form = form_with_fields()

    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "submission_receive", down)

    status, headers, content = post(form, email="ana@example.com")

    assert status == "503 Service Unavailable"
    assert json.loads(content)["code"] == "unavailable"
    assert not Submission.objects.exists()


def test_an_unknown_form_is_404_and_the_forms_other_paths_go_through_django(monkeypatch):
    handled = []
    monkeypatch.setattr(FormPostHandler, "__call__", spy(FormPostHandler.__call__, handled))
    form_with_fields()

    status, headers, content = wsgi_call("/f/no-such-form/", b"{}", HTTP_ACCEPT="application/json")
    assert status == "404 Not Found"
    assert json.loads(content)["code"] == "form_not_found"

    status, headers, content = wsgi_call(
        "/f/ebook/embed/", method="GET", HTTP_ACCEPT="application/json"
    )
    assert status == "200 OK"
    assert "render_token" in json.loads(content)
    assert handled == ["/f/no-such-form/"]


@pytest.mark.parametrize("content_type", [FORM_TYPE, "application/json"])
def test_a_post_for_a_host_not_in_allowed_hosts_is_refused_without_an_origin(content_type):
    form = form_with_fields()
    data = {
        "_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10),
        "website": "",
        "email": "ana@example.com",
    }
    body = json.dumps(data) if content_type == "application/json" else urlencode(data)

    status, headers, content = wsgi_call(
        f"/f/{form.slug}/",
        body.encode(),
        content_type=content_type,
        origin="",
        HTTP_HOST="evil.example",
    )

    assert status == "400 Bad Request"
    assert not Submission.objects.exists()
