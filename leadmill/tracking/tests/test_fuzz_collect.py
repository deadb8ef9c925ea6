"""Property-based: ``POST /t/collect`` and the pixel ``GET /t/p.gif`` through the production
WSGI application (the collect fast path, falling back to the view) with generated batches,
raw bodies, headers (Content-Type and its parameters, Origin, Content-Length that does not
match the body) and encodings (invalid UTF-8, lone surrogates, control characters, deep
nesting, huge numbers, NaN): every answer is 2xx, 3xx or 4xx, never 5xx; a batch answered
204 is stored whole, any other answer stores nothing.

Deterministic (``derandomize``, no example database written) and bounded. The examples of
one test share its fixtures and database (hence the suppressed function-scoped-fixture
health check): each example counts only the events its own request stored.
"""

import json
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from leadmill.core.http import PIXEL_GIF
from leadmill.core.tests.wsgi_client import wsgi_call

from ..models import Event

pytestmark = pytest.mark.django_db

FUZZ = fuzz_settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HOSTILE = [
    "\x00",
    "\x01",
    "\x0b",
    "\x7f",
    "\x85",
    "\ud800",
    "\udc00",
    "\ufffd",
    "\n",
    "\t",
    " ",
    "é",
    "🎉",
    "\\u0000",
    "http://",
    "https://testserver/",
    "http://[::1",
]
VID = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"

any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # surrogates included
texts = st.lists(st.sampled_from(HOSTILE) | any_text, max_size=4).map("".join)
urls = (
    st.sampled_from(["http://testserver/offer", "https://www.example.com/p"])
    | texts.map(lambda t: "http://testserver/" + t)
    | texts
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)
plain_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12)
plain_properties = st.dictionaries(
    plain_text,
    st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False) | plain_text,
    max_size=3,
)
# Each event is a valid one with up to two fields replaced (so a good share of batches is
# stored and the fast path is exercised) by values of any kind, hostile ones included.
FIELDS = {
    "type": st.sampled_from(["page_view", "cta_click", "form_start", "email_open"]) | texts,
    "url": urls,
    "name": plain_text | texts,
    "referrer": urls,
    "visitor_id": st.sampled_from([VID, "short", "x" * 16 + "\n"]),
    "ts": scalars,
    "properties": plain_properties | values,
    "utm": st.dictionaries(st.sampled_from(["utm_source", "x"]), texts),
    "consent": scalars,
    "extra": scalars,
}
PLAIN_FIELDS = {
    "type": st.sampled_from(["page_view", "cta_click", "form_start", "form_view", "download"]),
    "url": plain_text.map(lambda t: "http://testserver/" + t.strip()),
    "name": plain_text.filter(str.strip),
    "referrer": st.sampled_from(["", "https://l.instagram.com/", "http://testserver/"]),
    "visitor_id": st.just(VID),
    "ts": st.integers(0, 2**53) | st.floats(0, 2e12),
    "properties": plain_properties,
    "utm": st.dictionaries(st.sampled_from(["utm_source", "utm_medium"]), plain_text),
    "consent": st.booleans(),
}


def _events(fields: dict, size: int) -> st.SearchStrategy:
    pairs = st.one_of([st.tuples(st.just(name), strategy) for name, strategy in fields.items()])
    return st.lists(pairs, max_size=size).map(
        lambda pairs: {
            "type": "custom",
            "name": "played",
            "url": "http://testserver/offer",
            **dict(pairs),
        }
    )


plain_events, mixed_events = _events(PLAIN_FIELDS, 4), _events(PLAIN_FIELDS, 4) | _events(FIELDS, 2)
deep = st.integers(min_value=1, max_value=5000).map(lambda n: ("[" * n + "]" * n).encode())


@st.composite
def batches(draw):
    """(body, environ headers) of one generated collect request."""
    kind = draw(st.sampled_from(["plain"] * 3 + ["mixed"] * 3 + ["deep", "raw"]))
    if kind == "raw":
        body = draw(st.binary(max_size=300))
    else:
        batch = draw(
            st.lists(plain_events if kind == "plain" else mixed_events, min_size=1, max_size=3)
        )
        body = json.dumps(batch).encode()  # NaN as NaN, surrogates escaped
        if kind == "deep":
            body = body[:-1] + (b", " if len(body) > 2 else b"") + draw(deep) + b"]"
    if draw(st.integers(0, 6)) == 0:  # a few bytes not UTF-8 somewhere
        at = draw(st.integers(0, len(body)))
        body = (
            body[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc2\x85", b"\x00"]))
            + body[at:]
        )
    headers = {
        "content_type": draw(
            st.sampled_from(
                ["application/json"] * 8
                + [
                    "text/plain",
                    "text/plain;charset=UTF-8",
                    "application/json; charset=latin-1",
                    "application/x-www-form-urlencoded",
                    "",
                    ";",
                ]
            )
        ),
        "origin": draw(
            st.sampled_from(["http://testserver"] * 8 + ["", "https://evil.example", "null"])
        ),
    }
    length = draw(st.sampled_from(["exact"] * 6 + ["shorter", "longer", "junk"]))
    if length != "exact":
        headers["CONTENT_LENGTH"] = {
            "shorter": str(max(len(body) - 2, 0)),
            "longer": str(len(body) + 7),
            "junk": draw(st.sampled_from(["", "-1", "abc"])),
        }[length]
    if draw(st.booleans()):
        headers["HTTP_REFERER"] = draw(
            st.sampled_from(["http://[::1", "http://testserver/x", "\x7f"])
        )
    return body, headers


@pytest.fixture
def generous_limits(settings):
    settings.LEADMILL_TRACKING_RATE_LIMIT_PER_IP = 100_000


@FUZZ
@given(call=batches())
def test_any_collect_request_gets_a_non_5xx_answer_and_a_204_stores_the_batch(
    generous_limits, call
):
    body, headers = call
    before = Event.objects.count()

    status, _headers, content = wsgi_call("/t/collect", body, **headers)

    code = int(status.split()[0])
    event(f"answered {code}")  # --hypothesis-show-statistics: how the examples spread
    assert code < 500, (status, content[:300], body[:300], headers)
    stored = Event.objects.count() - before
    if code == 204:
        assert stored == len(json.loads(body[: int(headers.get("CONTENT_LENGTH") or len(body))])), (
            body[:300],
            headers,
        )
    else:
        assert stored == 0, (status, body[:300], headers)


query_parts = st.tuples(
    st.sampled_from(["u", "r", "v", "c", "utm_source", "utm_campaign", "x", "u[]"]),
    st.binary(max_size=30).map(quote_from_bytes)
    | st.sampled_from(
        [
            "http://testserver/offer",
            "http://testserver/%ff",
            "http://[::1",
            "http%3A%2F%2Ftestserver%2F",
        ]
    )
    | texts.map(lambda t: quote_from_bytes(t.encode("utf-8", "surrogatepass"))),
)


@FUZZ
@given(
    page=st.sampled_from(["u=http://testserver/offer&", "u=http://testserver/p?utm_source=x&", ""]),
    parts=st.lists(query_parts, max_size=4),
    raw_tail=st.sampled_from([b""] * 3) | st.binary(max_size=10),
)
def test_any_pixel_request_gets_a_gif_and_never_a_5xx(generous_limits, page, parts, raw_tail):
    query = (
        page + "&".join(f"{name}={value}" for name, value in parts) + raw_tail.decode("latin-1")
    )  # as WSGI gives it

    status, headers, content = wsgi_call("/t/p.gif", method="GET", QUERY_STRING=query)

    event(f"answered {status}")
    assert int(status.split()[0]) < 500, (status, query)
    assert (headers["Content-Type"], content) == ("image/gif", PIXEL_GIF)
