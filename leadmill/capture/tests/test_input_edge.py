"""``POST /f/<slug>/`` and the one input edge (leadmill.core.text): text the database, the
worker or an export cannot take is refused at the door with a 400 and a message per field,
for JSON, urlencoded and multipart bodies, through Django's handler and the production
WSGI application alike; a request the endpoint cannot read gets its own error shape."""

import json
import time
from urllib.parse import quote, quote_from_bytes

import pytest

from leadmill.contacts.models import Contact
from leadmill.core.tests.wsgi_client import WsgiClient

from .. import tokens
from ..models import Submission
from ..services import submissions_process
from .factories import form_with_fields

pytestmark = pytest.mark.django_db

BOUNDARY = "lmEdgeBoundary7MA4YWxk"
JSON, URLENCODED, MULTIPART = (
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
)
CONTENT_TYPES = {JSON: JSON, URLENCODED: URLENCODED, MULTIPART: f"{MULTIPART}; boundary={BOUNDARY}"}

NOT_UTF8 = "This text is not valid UTF-8; send it again as UTF-8 text."
LINE_BREAK = "Line breaks are not allowed here; write it on one line."


def control(code: int) -> str:
    return (
        f"Remove the invisible control character (U+{code:04X}); only letters, digits, "
        "punctuation and spaces are allowed."
    )


@pytest.fixture(params=["django", "wsgi"])
def poster(request, client):
    """Django's test client, or the production WSGI application (the lean form path)."""
    return client if request.param == "django" else WsgiClient(client, ("/f/ebook/",))


def body_of(kind: str, form, field: str, value: bytes, *, json_value: bytes | None = None) -> bytes:
    """A post of ``email`` (unless it is ``field``), a valid render token and ``field``:
    ``value`` as raw bytes in the body, or for JSON ``json_value`` as the JSON text."""
    base = {"_rt": tokens.render_token_make(form_id=form.pk, at=time.time() - 10), "website": ""}
    if field != "email":
        base["email"] = "ana@example.com"
    if kind == JSON:
        fragment = json_value if json_value is not None else b'"' + value + b'"'
        return json.dumps({**base, field: "@@VALUE@@"}).encode().replace(b'"@@VALUE@@"', fragment)
    if kind == URLENCODED:
        pairs = [f"{quote(k)}={quote(v)}" for k, v in base.items()] + [
            f"{field}={quote_from_bytes(value)}"
        ]
        return "&".join(pairs).encode()
    parts = [(k, v.encode()) for k, v in base.items()] + [(field, value)]
    return (
        b"".join(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + data
            + b"\r\n"
            for name, data in parts
        )
        + f"--{BOUNDARY}--\r\n".encode()
    )


def post(poster, kind: str, body: bytes, **headers):
    return poster.post(
        "/f/ebook/", data=body, content_type=CONTENT_TYPES[kind], HTTP_ACCEPT=JSON, **headers
    )


# (field, raw value, the JSON text of that value, the message, what the submission keeps)
EVERY_BODY = {
    "vertical tab in a name": (
        "first_name",
        b"Ana\x0bMaria",
        b'"Ana\\u000bMaria"',
        control(0x0B),
        "Ana\x0bMaria",
    ),
    "start of heading in a name": (
        "first_name",
        b"\x01Ana",
        b'"\\u0001Ana"',
        control(0x01),
        "\x01Ana",
    ),
    "NUL in a name": ("first_name", b"Ana\x00", b'"Ana\\u0000"', control(0x00), "Ana\ufffd"),
    "line break in a name": (
        "first_name",
        b"Ana\nMaria",
        b'"Ana\\nMaria"',
        LINE_BREAK,
        "Ana\nMaria",
    ),
    "invalid UTF-8 in the email": (
        "email",
        b"\xff\xfe@example.com",
        b'"\xff\xfe@example.com"',
        NOT_UTF8,
        "\ufffd\ufffd@example.com",
    ),
}
JSON_ONLY = {
    "lone surrogate in a name": ("first_name", b'"Ana\\ud800"', NOT_UTF8, "Ana\ufffd"),
    "NaN as a name": (
        "first_name",
        b"NaN",
        "Numbers must be finite (NaN and Infinity are not allowed).",
        "nan",
    ),
    "an object as a name": (
        "first_name",
        b'{"a": "b"}',
        "Send this field as text, a number or true / false.",
        "",
    ),
    "a 5,000-deep object in a name": (
        "first_name",
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        "This value is nested too deeply (at most 5 levels).",
        "",
    ),
    "a number too large for 64 bits": (
        "first_name",
        b"1" + b"0" * 30,
        "This number is too large; numbers must be between -2^63 and 2^63.",
        "1" + "0" * 30,
    ),
}


def assert_refused(response, field: str, message: str, kept: str) -> None:
    assert response.status_code == 400
    assert response.json() == {
        "status": "invalid",
        "code": "invalid",
        "message": "Please correct the highlighted fields.",
        "errors": {field: [message]},
    }
    submissions_process()  # the worker finds nothing to do
    submission = Submission.objects.get()
    assert (submission.status, submission.errors) == (
        Submission.Status.REJECTED,
        {field: [message]},
    )
    assert submission.data[field] == kept  # what was sent is kept, as far as a column can hold it
    assert not Contact.objects.exists()


@pytest.mark.parametrize("kind", [JSON, URLENCODED, MULTIPART])
@pytest.mark.parametrize("case", EVERY_BODY, ids=list(EVERY_BODY))
def test_text_the_edge_refuses_gets_400_with_its_field_named_in_every_body(poster, kind, case):
    form = form_with_fields()
    field, raw, as_json, message, kept = EVERY_BODY[case]

    response = post(poster, kind, body_of(kind, form, field, raw, json_value=as_json))

    assert_refused(response, field, message, kept)


@pytest.mark.parametrize("case", JSON_ONLY, ids=list(JSON_ONLY))
def test_json_values_the_edge_refuses_get_400_with_their_field_named(poster, case):
    form = form_with_fields()
    field, as_json, message, kept = JSON_ONLY[case]

    response = post(poster, JSON, body_of(JSON, form, field, b"", json_value=as_json))

    assert_refused(response, field, message, kept)


def test_a_bad_character_in_a_field_the_form_does_not_ask_refuses_the_post_too(poster):
    form = form_with_fields()

    response = post(poster, URLENCODED, body_of(URLENCODED, form, "utm_source", b"news\x01letter"))

    assert response.status_code == 400
    assert response.json()["errors"] == {"utm_source": [control(0x01)]}
    assert Submission.objects.get().status == Submission.Status.REJECTED


def test_an_html_form_post_shows_the_edges_message_beside_the_field(client):
    form = form_with_fields()
    body = body_of(URLENCODED, form, "first_name", b"Ana\x0bMaria")

    response = client.post("/f/ebook/", data=body, content_type=URLENCODED)

    assert response.status_code == 400
    html = response.content.decode()
    assert control(0x0B) in html
    assert Submission.objects.get().status == Submission.Status.REJECTED


def test_ordinary_text_in_every_body_still_becomes_a_lead(poster):
    form = form_with_fields()

    name = "São Paulo — 日本 🎉\tok"
    for index, kind in enumerate([JSON, URLENCODED, MULTIPART]):
        body = body_of(
            kind, form, "first_name", name.encode(), json_value=json.dumps(name).encode()
        )
        response = post(
            poster, kind, body.replace(b"ana@example.com", f"ana{index}@example.com".encode())
        )
        assert response.status_code == 201

    submissions_process()
    assert (
        list(Submission.objects.values_list("status", flat=True))
        == [Submission.Status.ACCEPTED] * 3
    )
    assert set(Contact.objects.values_list("first_name", flat=True)) == {"São Paulo — 日本 🎉\tok"}


# --- requests the endpoint cannot read: its own error shape, never Django's page or a 500 --------


@pytest.mark.parametrize("kind", [URLENCODED, MULTIPART])
def test_more_fields_than_django_reads_get_the_endpoints_json_400(poster, settings, kind):
    settings.LEADMILL_MAX_SUBMISSION_BYTES = 128 * 1024  # 1,001 empty parts take 75 KB
    form = form_with_fields()
    body = body_of(kind, form, "first_name", b"Ana")
    extra = {f"extra{i}": b"" for i in range(1001)}
    if kind == URLENCODED:
        body += b"".join(f"&{name}=".encode() for name in extra)
    else:
        body = (
            body.removesuffix(f"--{BOUNDARY}--\r\n".encode())
            + b"".join(
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n\r\n'.encode()
                for name in extra
            )
            + f"--{BOUNDARY}--\r\n".encode()
        )

    response = post(poster, kind, body)

    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "code": "too_many_fields",
        "message": "The form has too many fields: send only the form's own fields.",
    }
    assert not Submission.objects.exists()


def test_more_fields_than_django_reads_get_plain_text_for_a_browser(client):
    form = form_with_fields()
    body = body_of(URLENCODED, form, "first_name", b"Ana") + b"".join(
        f"&x{i}=".encode() for i in range(1001)
    )

    response = client.post("/f/ebook/", data=body, content_type=URLENCODED)

    assert (response.status_code, response["Content-Type"]) == (400, "text/plain; charset=utf-8")
    assert (
        response.content.decode()
        == "The form has too many fields: send only the form's own fields."
    )


def test_a_broken_multipart_body_gets_400_malformed(poster):
    form_with_fields()

    response = poster.post(
        "/f/ebook/",
        data=b"--other\r\nnot a part",
        content_type=f"{MULTIPART}; boundary=",
        HTTP_ACCEPT=JSON,
    )

    assert response.status_code == 400
    assert response.json()["code"] == "malformed"
    assert not Submission.objects.exists()


@pytest.mark.parametrize("kind", [JSON, URLENCODED, MULTIPART])
def test_a_body_above_the_limit_gets_413_in_the_endpoints_shape(poster, settings, kind):
    settings.LEADMILL_MAX_SUBMISSION_BYTES = 1000
    form = form_with_fields()

    response = post(poster, kind, body_of(kind, form, "first_name", b"x" * 2000))

    assert response.status_code == 413
    assert response.json() == {
        "status": "error",
        "code": "too_large",
        "message": "The form data is too large.",
    }
    assert not Submission.objects.exists()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/json-seq", "", "multipart/mixed"]
)
def test_another_content_type_gets_415_in_the_endpoints_shape(poster, content_type):
    form_with_fields()

    response = poster.post(
        "/f/ebook/", data=b"email=a@example.com", content_type=content_type, HTTP_ACCEPT=JSON
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"1" * 5000, b'{"a": 1} x']
)
def test_a_json_body_that_is_not_an_object_gets_400_malformed(poster, body):
    form_with_fields()

    response = poster.post("/f/ebook/", data=body, content_type=JSON)

    assert response.status_code == 400
    assert response.json()["code"] == "malformed"
    assert not Submission.objects.exists()


def test_a_referer_that_is_not_a_url_is_no_origin_and_no_500(poster):
    form = form_with_fields()

    response = post(
        poster,
        URLENCODED,
        body_of(URLENCODED, form, "first_name", b"Ana"),
        HTTP_REFERER="http://[::1",
    )

    assert response.status_code == 201
    submissions_process()
    submission = Submission.objects.get()
    assert (submission.referrer, submission.status) == ("http://[::1", Submission.Status.ACCEPTED)


def test_a_page_id_of_unicode_digits_is_ignored(poster):
    form = form_with_fields()

    response = post(poster, URLENCODED, body_of(URLENCODED, form, "_page", "²³".encode()))

    assert response.status_code == 201
    assert Submission.objects.get().page_id is None
