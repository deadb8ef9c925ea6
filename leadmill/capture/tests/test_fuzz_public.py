"""Property-based: ``POST /f/<slug>/`` through the production WSGI application (the lean form
path, as granian serves it) with generated bodies (JSON, urlencoded, multipart, raw bytes),
headers (Content-Type and its parameters, Origin, Referer, Accept, Content-Length that does
not match the body) and encodings (invalid UTF-8, lone surrogates, control characters, deep
nesting, huge numbers, NaN).

Whatever is sent, the answer is 2xx, 3xx or 4xx, never 5xx; and every post answered as
accepted is processed by the worker (Huey in immediate mode: the task runs when the
submission commits) into a lead or spam, never "error" and never left waiting.

Deterministic (``derandomize``, no example database written) and bounded: a fixed number of
examples. The examples of one test share its fixtures, the form and the database (hence the
suppressed function-scoped-fixture health check): that is safe here because each example
judges only the submission it made.
"""

import json
import time
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from leadmill.core.tests.wsgi_client import wsgi_call

from .. import tokens
from ..models import Submission
from ..services import submissions_process
from .factories import form_with_fields

pytestmark = pytest.mark.django_db(
    transaction=True
)  # on-commit work runs: the worker processes each post

FUZZ = fuzz_settings(
    max_examples=70,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BOUNDARY = "lmFuzzBoundary"
HOSTILE = [
    "\x00",
    "\x01",
    "\x0b",
    "\x1f",
    "\x7f",
    "\x85",
    "\ud800",
    "\udfff",
    "\ufffd",
    "\n",
    "\r\n",
    "\t",
    "=1+1",
    "@SUM(1)",
    "é",
    "🎉",
    "%ff",
    "\\u0000",
    "'",
    '"',
    "<script>",
    " ",
]

any_text = st.text(st.characters(exclude_categories=()), max_size=20)  # surrogates included
hostile_text = st.lists(st.sampled_from(HOSTILE) | any_text, max_size=4).map("".join)
emails = (
    st.sampled_from(["ana@example.com", "Bea@Example.COM", "c.d+tag@example.org", "x@y", ""])
    | hostile_text
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | hostile_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=8,
)
field_names = (
    st.sampled_from(
        [
            "first_name",
            "message",
            "phone",
            "utm_source",
            "_url",
            "_referrer",
            "_page",
            "_lm_vid",
            "website",
            "consent_email-marketing",
            "custom_x",
        ]
    )
    | hostile_text
)
deep = st.integers(min_value=1, max_value=3000).map(lambda n: ("[" * n + "]" * n).encode())


TOKEN = "@@render-token@@"  # replaced by a fresh render token for the form, in any encoding


@st.composite
def form_posts(draw):
    """(body, environ headers) of one generated post."""
    fields = {}
    if draw(st.integers(0, 9)):  # mostly a render token, so posts get past the spam checks
        fields["_rt"] = TOKEN
    if draw(st.integers(0, 9)):
        fields["email"] = draw(emails)
    fields.update(draw(st.dictionaries(field_names, json_values, max_size=4)))
    kind = draw(st.sampled_from(["json", "urlencoded", "multipart", "raw"]))
    if kind == "json":
        body = json.dumps(fields).encode()  # surrogates escaped as \ud800, NaN as NaN
        if draw(st.booleans()):  # a nested value too deep for a recursive decoder, in place of one
            body = (
                body.replace(b"null", draw(deep), 1)
                if b"null" in body
                else body[:-1] + b', "d": ' + draw(deep) + b"}"
            )
        content_type = "application/json"
    elif kind == "raw":
        body = draw(st.binary(max_size=200))
        content_type = draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/x-www-form-urlencoded",
                    f"multipart/form-data; boundary={BOUNDARY}",
                ]
            )
        )
    else:
        pairs = [
            (str(key).encode("utf-8", "surrogatepass"), _form_bytes(value))
            for key, value in fields.items()
        ]
        if kind == "urlencoded":
            body = b"&".join(
                quote_from_bytes(k).encode() + b"=" + quote_from_bytes(v).encode() for k, v in pairs
            )
            content_type = "application/x-www-form-urlencoded"
        else:
            body = (
                b"".join(
                    b"--"
                    + BOUNDARY.encode()
                    + b'\r\nContent-Disposition: form-data; name="'
                    + k.replace(b'"', b"")
                    + b'"\r\n\r\n'
                    + v
                    + b"\r\n"
                    for k, v in pairs
                )
                + b"--"
                + BOUNDARY.encode()
                + b"--\r\n"
            )
            content_type = f"multipart/form-data; boundary={BOUNDARY}"
    if draw(st.integers(0, 5)) == 0:  # a few bytes not UTF-8 somewhere
        at = draw(st.integers(0, len(body)))
        body = (
            body[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"]))
            + body[at:]
        )
    content_type += draw(
        st.sampled_from(["", "; charset=utf-8", "; charset=latin-1", "; charset=bogus", ";;"])
    )
    headers = {
        "content_type": content_type,
        "origin": draw(st.sampled_from(["", "http://testserver", "https://evil.example", "null"])),
        "HTTP_ACCEPT": draw(st.sampled_from(["application/json", "text/html", "*/*"])),
    }
    length = draw(st.sampled_from(["exact", "exact", "exact", "shorter", "longer", "junk"]))
    if length != "exact":
        headers["CONTENT_LENGTH"] = {
            "shorter": str(max(len(body) - 3, 0)),
            "longer": str(len(body) + 5),
            "junk": draw(st.sampled_from(["", "-1", "abc", "1e3"])),
        }[length]
    if draw(st.booleans()):
        headers["HTTP_REFERER"] = draw(
            st.sampled_from(
                [
                    "http://[::1",
                    "http://testserver/lp/?utm_source=x%ff",
                    "https://evil.example/",
                    "\x7fnot a url",
                ]
            )
        )
    return body, headers


def _form_bytes(value) -> bytes:
    """A JSON value as a form field would carry it: text (surrogates as the bytes a careless
    encoder writes), anything else as its JSON text."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()


@pytest.fixture
def form(settings):
    settings.LEADMILL_RATE_LIMIT_PER_IP = settings.LEADMILL_RATE_LIMIT_PER_FORM = 10_000
    return form_with_fields()


@FUZZ
@given(post=form_posts())
def test_any_form_post_gets_a_non_5xx_answer_and_every_accepted_post_becomes_a_lead_or_spam(
    form, post
):
    body, headers = post
    body = body.replace(
        TOKEN.encode(), tokens.render_token_make(form_id=form.pk, at=time.time() - 10).encode()
    )
    before = Submission.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    status, _headers, _content = wsgi_call(f"/f/{form.slug}/", body, **headers)

    code = int(status.split()[0])
    event(f"answered {code}")  # --hypothesis-show-statistics: how the examples spread
    assert code < 500, (status, body[:300], headers)
    submissions_process()  # what a catch-up would find: nothing, the worker already ran
    made = list(Submission.objects.filter(pk__gt=before).values_list("status", flat=True))
    if code in (201, 303):
        assert made in ([Submission.Status.ACCEPTED], [Submission.Status.SPAM]), (
            made,
            body[:300],
            headers,
        )
    else:
        assert made in ([], [Submission.Status.REJECTED]), (code, made, body[:300], headers)
    assert not Submission.objects.filter(
        status__in=[Submission.Status.ERROR, Submission.Status.RECEIVED]
    ).exists()
