"""Spam defences of the form post that a person must never pay for: posts per render token
(issue 12 item 4), the host check of the lean path (item 5) and the proof-of-work that lets
a quick person through (item 22). Posts go through the production WSGI application."""

import base64
import json
import re
import time
import types
from html import unescape
from urllib.parse import urlencode

import altcha
import pytest

from leadmill.contacts.models import Contact
from leadmill.core.tests.wsgi_client import wsgi_call

from .. import proof, tokens
from ..models import Submission
from ..services import submissions_process
from .factories import form_with_fields

pytestmark = pytest.mark.django_db

FORM_TYPE = "application/x-www-form-urlencoded"
SILENT_KEYS = {"status", "message", "thank_you_url", "download_url", "discount_code"}


@pytest.fixture(autouse=True)
def _rules(settings):
    settings.LEADMILL_FORM_MIN_SECONDS = 3
    settings.LEADMILL_FORM_TOKEN_POSTS = 3
    settings.LEADMILL_FORM_PROOF_MAX_NUMBER = 2_000  # quick to solve in a test
    settings.LEADMILL_RATE_LIMIT_PER_IP = 1_000


def token(form, *, age_s: float = 10) -> str:
    return tokens.render_token_make(form_id=form.pk, at=time.time() - age_s)


def solved(form, *, challenge: dict | None = None) -> str:
    """The payload the form's script posts, for a challenge of ``GET /f/<slug>/start/``."""
    challenge = challenge or proof.proof_challenge_make(form_id=form.pk)
    solution = altcha.solve_challenge_v1(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxNumber"]
    )
    payload = {key: challenge[key] for key in ("algorithm", "challenge", "salt", "signature")}
    return base64.b64encode(json.dumps({**payload, "number": solution.number}).encode()).decode()


def post(
    form,
    values: dict,
    *,
    content_type="application/json",
    ip="198.51.100.1",
    language="en",
    **headers,
):
    data = {"website": "", **values}
    body = json.dumps(data) if content_type == "application/json" else urlencode(data)
    accept = {"HTTP_ACCEPT": "application/json"} if content_type == "application/json" else {}
    status, answer_headers, content = wsgi_call(
        f"/f/{form.slug}/",
        body.encode(),
        content_type=content_type,
        origin="",
        REMOTE_ADDR=ip,
        HTTP_ACCEPT_LANGUAGE=language,
        **accept,
        **headers,
    )
    return int(status.split()[0]), answer_headers, content


def hidden_token(html: bytes) -> str:
    return unescape(re.search(rb'name="_rt" value="([^"]+)"', html).group(1).decode())


# --- Item 4: one render token, a bounded number of posts ------------------------------------------


def test_a_render_token_makes_a_bounded_number_of_posts_from_any_address_then_needs_the_proof():
    # Given one render token, posted from rotating addresses (past the per-address limit)
    form = form_with_fields()
    shared = token(form)

    # When it is posted once more than LEADMILL_FORM_TOKEN_POSTS allows
    answers = [
        post(form, {"_rt": shared, "email": f"p{n}@example.com"}, ip=f"198.51.100.{n}")
        for n in range(4)
    ]

    # Then the first three are received, the fourth is spam with the same silent answer
    assert [status for status, _headers, _content in answers] == [201, 201, 201, 201]
    assert set(json.loads(answers[3][2])) == SILENT_KEYS
    assert json.loads(answers[3][2])["download_url"] == ""
    rows = list(Submission.objects.order_by("pk").values_list("status", "spam_reason"))
    assert rows == [("received", "")] * 3 + [("spam", "render_token_reused")]

    # ... and with a solved proof-of-work the same token is good for one more post
    status, _headers, _content = post(
        form, {"_rt": shared, "email": "p4@example.com", "_altcha": solved(form)}
    )
    assert status == 201
    assert Submission.objects.order_by("-pk").values_list("status", flat=True)[0] == "received"


def test_a_page_kept_by_a_cache_never_refuses_a_person_without_javascript():
    # Given a cached page whose one token three people already used
    form = form_with_fields()
    cached = token(form)
    for n in range(3):
        assert (
            post(form, {"_rt": cached, "email": f"p{n}@example.com"}, content_type=FORM_TYPE)[0]
            == 303
        )

    # When a fourth person, without JavaScript, sends the form from it
    status, _headers, content = post(
        form,
        {"_rt": cached, "email": "dora@example.com", "first_name": "Dora"},
        content_type=FORM_TYPE,
    )

    # Then the form comes back with what they typed, a request to send it again and a new token
    assert status == 400
    html = content.decode()
    assert "Please check your details and send the form again." in html
    assert 'value="dora@example.com"' in html
    fresh = hidden_token(content)
    assert fresh != cached
    assert (
        tokens.render_token_read(fresh, form_id=form.pk).nonce
        != tokens.render_token_read(cached, form_id=form.pk).nonce
    )

    # ... and sent again once the fill time has passed, it is accepted and becomes a lead
    later = types.SimpleNamespace(time=lambda: time.time() + 5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tokens, "time", later)  # the clock, not our code
        status, headers, _content = post(
            form, {"_rt": fresh, "email": "dora@example.com"}, content_type=FORM_TYPE
        )
    assert (status, headers["Location"].startswith("/f/ebook/thanks/?s=")) == (303, True)
    submissions_process()
    assert Contact.objects.filter(email="dora@example.com").count() == 1


def test_the_form_script_gets_a_fresh_token_with_the_pages_left_out_fields_and_a_challenge():
    form = form_with_fields(allowed_origins="https://partner.example")
    cached = tokens.render_token_make(form_id=form.pk, omitted=["first_name"])

    status, headers, content = wsgi_call(
        f"/f/{form.slug}/start/",
        method="GET",
        origin="https://partner.example",
        QUERY_STRING=urlencode({"rt": cached}),
    )

    assert status == "200 OK"
    answer = json.loads(content)
    fresh = tokens.render_token_read(answer["render_token"], form_id=form.pk)
    assert fresh.omitted == {"first_name"}
    assert fresh.nonce != tokens.render_token_read(cached, form_id=form.pk).nonce
    assert set(answer["challenge"]) == {"algorithm", "challenge", "maxNumber", "salt", "signature"}
    assert answer["challenge"]["algorithm"] == "SHA-256"
    assert answer["min_seconds"] == 3
    assert headers["Cache-Control"] == "no-store"
    assert headers["Access-Control-Allow-Origin"] == "https://partner.example"


# --- Item 22: a quick person gets through, a quick bot does not ------------------------------------


def test_a_quick_post_with_an_invalid_email_shows_its_errors_as_usual():
    form = form_with_fields()

    status, _headers, content = post(form, {"_rt": token(form, age_s=0.7), "email": "not-an-email"})

    assert status == 400
    assert json.loads(content)["errors"] == {
        "email": ["Enter a valid email address, like name@example.com."]
    }
    assert Submission.objects.get().status == "rejected"


def test_a_quick_valid_post_with_a_solved_proof_becomes_a_lead():
    form = form_with_fields()

    status, _headers, content = post(
        form, {"_rt": token(form, age_s=0.7), "email": "ana@example.com", "_altcha": solved(form)}
    )
    submissions_process()

    assert status == 201
    assert Submission.objects.get().status == "accepted"
    assert "_altcha" not in Submission.objects.get().data
    assert Contact.objects.filter(email="ana@example.com").exists()


def test_a_quick_bot_without_the_proof_is_stored_as_spam_with_the_silent_answer():
    form = form_with_fields()
    honeypot_answer = post(
        form, {"_rt": token(form), "email": "bot@example.com", "website": "http://spam"}
    )

    status, _headers, content = post(
        form, {"_rt": token(form, age_s=0.7), "email": "bot@example.com"}
    )

    assert (status, set(json.loads(content))) == (
        honeypot_answer[0],
        set(json.loads(honeypot_answer[2])),
    )
    assert json.loads(content)["message"] == json.loads(honeypot_answer[2])["message"]
    spam = Submission.objects.order_by("pk").last()
    assert (spam.status, spam.spam_reason, spam.values["email"]) == (
        "spam",
        "too_fast",
        "bot@example.com",
    )
    submissions_process()
    assert not Contact.objects.exists()


def test_a_quick_post_without_javascript_is_asked_to_send_again_with_the_same_token():
    form = form_with_fields()
    shown = token(form, age_s=0.7)

    status, _headers, content = post(
        form, {"_rt": shown, "email": "ana@example.com"}, content_type=FORM_TYPE
    )

    assert status == 400
    assert "Please check your details and send the form again." in content.decode()
    assert hidden_token(content) == shown  # the fill time still counts from when the form was shown
    assert Submission.objects.get().spam_reason == "too_fast"


@pytest.mark.parametrize(
    "form_language,message",
    [
        ("pt-br", "Confira seus dados e envie o formulário novamente."),
        # ADR 43: the form's language, not the browser's (it chooses between translations).
        ("en", "Please check your details and send the form again."),
    ],
)
def test_the_request_to_send_again_is_in_the_forms_language(form_language, message):
    from wagtail.models import Locale

    form = form_with_fields()
    form.locale, _created = Locale.objects.get_or_create(language_code=form_language)
    form.save()

    status, _headers, content = post(
        form,
        {"_rt": token(form, age_s=0.7), "email": "ana@example.com"},
        content_type=FORM_TYPE,
        language="pt-BR",
    )

    assert status == 400
    assert message in content.decode()


@pytest.mark.parametrize("case", ["reused", "other_form", "tampered", "expired", "garbage"])
def test_a_proof_is_good_for_one_post_of_its_own_form_until_it_expires(case, monkeypatch):
    form = form_with_fields()
    other = form_with_fields(slug="other")
    payload = solved(form)
    if case == "reused":
        assert (
            post(
                form, {"_rt": token(form, age_s=0.5), "email": "a@example.com", "_altcha": payload}
            )[0]
            == 201
        )
    elif case == "other_form":
        payload = solved(other)
    elif case == "tampered":
        data = json.loads(base64.b64decode(payload))
        payload = base64.b64encode(
            json.dumps({**data, "number": data["number"] + 1}).encode()
        ).decode()
    elif case == "expired":
        monkeypatch.setattr(proof, "CHALLENGE_LIFETIME_S", -5)
        payload = solved(form)
    else:
        payload = "%%% not base64 %%%"

    post(form, {"_rt": token(form, age_s=0.5), "email": "b@example.com", "_altcha": payload})

    last = Submission.objects.order_by("pk").last()
    assert (last.status, last.spam_reason) == ("spam", "too_fast")
