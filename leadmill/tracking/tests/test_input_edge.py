"""``POST /t/collect`` and the pixel meet the one input edge (leadmill.core.text): text and
values the database cannot take get a 400 with the view's error list, through the fast path
(leadmill.wsgi.application) and Django's handler alike, and nothing is stored."""

import json

import pytest

from leadmill.core.tests.wsgi_client import wsgi_call

from ..models import Event

pytestmark = pytest.mark.django_db

URL = "http://testserver/offer"
NOT_UTF8 = "This text is not valid UTF-8; send it again as UTF-8 text."
LINE_BREAK = "Line breaks are not allowed here; write it on one line."
NOT_FINITE = "Numbers must be finite (NaN and Infinity are not allowed)."


def control(code: int) -> str:
    return (
        f"Remove the invisible control character (U+{code:04X}); only letters, digits, "
        "punctuation and spaces are allowed."
    )


@pytest.fixture(params=["fast path", "django"])
def collect(request, client):
    """POST a raw body to /t/collect: through the production WSGI application (its fast
    path, falling back to the view), or through Django's handler (the view alone)."""

    def send(body: bytes) -> tuple[int, dict | None]:
        if request.param == "fast path":
            status, _headers, content = wsgi_call(
                "/t/collect", body, origin="http://testserver", HTTP_ACCEPT_LANGUAGE="en"
            )
            return int(status.split()[0]), json.loads(content) if content else None
        response = client.post(
            "/t/collect",
            data=body,
            content_type="application/json",
            HTTP_ORIGIN="http://testserver",
        )
        return response.status_code, response.json() if response.content else None

    return send


def custom(
    name: bytes = b'"played"',
    properties: bytes = b"{}",
    url: bytes = b'"' + URL.encode() + b'"',
    utm: bytes = b"{}",
) -> bytes:
    return (
        b'[{"type": "custom", "name": '
        + name
        + b', "url": '
        + url
        + b', "properties": '
        + properties
        + b', "utm": '
        + utm
        + b"}]"
    )


REFUSED = {
    "lone surrogate in a name": (custom(name=b'"a\\ud800"'), "name", NOT_UTF8),
    "lone surrogate in a URL": (custom(url=b'"http://testserver/\\udfff"'), "url", NOT_UTF8),
    "U+FFFD in a URL": (custom(url=b'"http://testserver/\xef\xbf\xbd"'), "url", NOT_UTF8),
    "vertical tab in a name": (custom(name=b'"a\\u000bb"'), "name", control(0x0B)),
    "backspace in a name": (custom(name=b'"a\\bb"'), "name", control(0x08)),
    "raw C1 control in a name": (custom(name=b'"a\xc2\x85b"'), "name", control(0x85)),
    "DEL in a referrer": (
        custom(name=b'"n", "referrer": "http://x/\x7f"'),
        "referrer",
        control(0x7F),
    ),
    "line break in a name": (custom(name=b'"a\\nb"'), "name", LINE_BREAK),
    "control character in a UTM value": (
        custom(utm=b'{"utm_source": "news\\u0001"}'),
        "utm",
        control(0x01),
    ),
    "NaN in the properties": (custom(properties=b'{"n": NaN}'), "properties", NOT_FINITE),
    "Infinity in the properties": (
        custom(properties=b'{"n": [-Infinity]}'),
        "properties",
        NOT_FINITE,
    ),
    "a number that overflows to infinity": (
        custom(properties=b'{"n": 1e400}'),
        "properties",
        NOT_FINITE,
    ),
    "an integer beyond 64 bits": (
        custom(properties=b'{"n": 1180591620717411303424}'),
        "properties",
        "This number is too large; numbers must be between -2^63 and 2^63.",
    ),
    "properties nested too deeply": (
        custom(properties=b'{"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}'),
        "properties",
        "This value is nested too deeply (at most 5 levels).",
    ),
    "a surrogate in a property's key": (
        custom(properties=b'{"\\ud83d": 1}'),
        "properties",
        NOT_UTF8,
    ),
    "NUL in the properties": (
        custom(properties=b'{"k": ["\\u0000"]}'),
        "properties",
        control(0x00),
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_text_and_values_the_edge_refuses_get_400_with_the_error_list(collect, case):
    body, field, message = REFUSED[case]

    status, answer = collect(body)

    assert (status, answer) == (
        400,
        {
            "status": "error",
            "code": "invalid",
            "message": "Some events are invalid; nothing was stored.",
            "errors": [{"index": 0, "field": field, "message": message}],
        },
    )
    assert not Event.objects.exists()


def test_invalid_utf8_inside_a_json_string_gets_400_malformed_saying_where(collect):
    status, answer = collect(custom(name=b'"caf\xe9"'))

    assert (status, answer) == (
        400,
        {
            "status": "error",
            "code": "malformed",
            "message": "The text is not valid UTF-8 (at byte 32); send it as UTF-8.",
        },
    )
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "properties",
    [
        b'{"text": "line one\\nline two\\r\\n", "tab": "a\\tb"}',  # line breaks are fine in properties
        b'{"title": "Ofertas \\u2713 \xe2\x9c\x93", "emoji": "\\ud83c\\udf89"}',  # escapes, raw and a surrogate pair
        b'{"n": 9223372036854775807, "f": -0.25, "deep": {"a": {"b": {"c": [1]}}}}',  # at the bounds
        b'{"path": "C:\\\\u0000"}',  # a backslash, then the text u0000
    ],
)
def test_ordinary_text_and_numbers_are_still_stored(collect, properties):
    status, _answer = collect(custom(properties=properties))

    assert status == 204
    assert Event.objects.get().properties == json.loads(properties)


@pytest.mark.parametrize(
    "query",
    [
        "u=http://testserver/%ff%fe",  # not UTF-8: U+FFFD after decoding
        "u=http://testserver/%01",
        "u=http://testserver/&r=http://x/%0bx",
        "u=http://testserver/&utm_source=a%c2%85b",
        "u=http://[::1",
    ],
)
def test_the_pixel_answers_400_and_stores_nothing_for_text_the_edge_refuses(query):
    status, headers, content = wsgi_call("/t/p.gif", method="GET", QUERY_STRING=query)

    assert status == "400 Bad Request"
    assert headers["Content-Type"] == "image/gif"
    assert content.startswith(b"GIF89a")
    assert not Event.objects.exists()
