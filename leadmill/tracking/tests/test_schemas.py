"""The collect endpoint's two parsers agree: :func:`events_decode` (the fast path) returns
what :func:`events_parse` returns, or ``None`` and leaves the batch to it."""

import datetime as dt
import json

import pytest

from ..schemas import BatchInvalid, events_decode, events_parse

pytestmark = (
    pytest.mark.django_db
)  # the app's fixtures (tests/conftest.py) clear cached configuration

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
VID = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
TS = int(NOW.timestamp() * 1000) - 5000


def view(**fields):
    return {"type": "page_view", "url": "https://www.example.com/offer", **fields}


BATCHES = [
    [view()],
    [view(visitor_id=VID, ts=TS, referrer=" https://l.instagram.com/ ", consent=True)],
    [
        view(
            utm={"utm_source": " ig ", "utm_medium": "", "utm_campaign": "nov"},
            properties={"title": "Ofertas ✓"},
        )
    ],
    [
        {
            "type": "cta_click",
            "name": "  demo ",
            "url": "https://www.example.com/",
            "properties": {"href": "/c/"},
        }
    ],
    [
        {
            "type": "custom",
            "name": "video",
            "properties": {"seconds": 30, "nested": {"a": [1, 2.5, None, True]}},
        }
    ],
    [{"type": "form_start"}, {"type": "form_view", "ts": TS + 0.5}, {"type": "download", "ts": 1}],
    [view(ts=10**15), view(ts=-5), view(ts=TS + 10**9)],  # clamped to a day back, never ahead
    [view(visitor_id=VID), view(visitor_id="b" * 16), view(visitor_id=VID)],
    [view(properties={})],
    [view(properties={"k": "x" * 1300})],  # near the properties limit: the full parser measures it
    [view(properties={"k": "é" * 1500})],
    # odd but valid: the fast path leaves them to the full parser
    [view(name=None, referrer=None, properties=None, utm=None)],
    [view(visitor_id=0, properties=[], utm={})],
    [view(ts=None, properties=0)],
    # invalid: both refuse
    [],
    {"type": "page_view"},
    [view(type="email_open")],
    [view(type=["page_view"])],
    [view(url="ftp://x")],
    [view(url="https://")],
    [{"type": "page_view"}],
    [{"type": "custom"}],
    [view(extra=1)],
    [view(name="n" * 201)],
    [view(url="https://x/" + "a" * 2000)],
    [view(visitor_id="short")],
    [view(visitor_id="bad id with spaces!!")],
    [view(ts=True)],
    [view(ts="1700000000000")],
    [view(properties={"k": "x" * 5000})],
    [view(properties="text")],
    [view(utm={"utm_source": 1})],
    [view(utm={"source": "x"})],
    [view(utm={"utm_source": "x" * 201})],
    [view(consent="yes")],
    [view(url="https://www.example.com/\u0000")],
    # the one input edge (leadmill.core.text): both refuse
    [view(name="a\ud800")],
    [view(url="https://www.example.com/\udfff")],
    [view(referrer="https://www.example.com/\ufffd")],
    [view(name="a\x0bb")],
    [view(name="a\x85b")],
    [view(name="a\x7f")],
    [view(name="one\ntwo")],
    [view(utm={"utm_source": "a\rb"})],
    [view(utm={"utm_source": "news\x01"})],
    [view(properties={"n": float("nan")})],
    [view(properties={"n": float("inf")})],
    [view(properties={"n": 2**70})],
    [view(properties={"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}})],
    [view(properties={str(i): i for i in range(101)})],
    [view(properties={"k\x01": 1})],
    # near the edge's bounds: valid, and judged alike
    [view(properties={"text": "line\nbreaks\r\n", "tab": "\t"})],
    [view(properties={"n": 2**63 - 1, "m": -(2**63) + 1, "f": 1.5e300})],
    [view(properties={"a": {"b": {"c": {"d": 1}}}})],
    [view(properties={str(i): i for i in range(100)})],
    [view(properties={"é": "\u00e9", "emoji": "\U0001f389"})],
    [view(name="  padded\t ")],
    [view()] * 3,  # over max_events=2 below
    "not a list",
    [1, 2],
]


def parse(payload, max_events):
    try:
        return events_parse(payload, max_events=max_events, now=NOW)
    except BatchInvalid:
        return "invalid"


def normalised(events):
    if events == "invalid":
        return events
    return [
        (
            e.type,
            e.occurred_at,
            e.name,
            e.url,
            e.referrer,
            e.visitor_id,
            e.utm,
            e.consent,
            json.loads(e.properties_json) if e.properties is None else e.properties,
        )
        for e in events
    ]


@pytest.mark.parametrize("payload", BATCHES, ids=range(len(BATCHES)))
def test_the_fast_parser_agrees_with_the_full_one_or_steps_aside(payload):
    max_events = 2 if payload == [view()] * 3 else 50
    body = json.dumps(payload).encode()

    fast = events_decode(body, max_events=max_events, now=NOW)
    full = parse(json.loads(body), max_events)

    if fast is not None:
        assert normalised(fast) == normalised(full)


def test_the_fast_parser_takes_the_common_batches():
    taken = [
        events_decode(json.dumps(payload).encode(), max_events=50, now=NOW) is not None
        for payload in BATCHES[:9]
    ]

    assert taken == [True] * 9


def test_every_invalid_batch_is_left_to_the_full_parser():
    invalid = [
        payload
        for payload in BATCHES
        if parse(payload, 2 if payload == [view()] * 3 else 50) == "invalid"
    ]

    assert len(invalid) == 41
    for payload in invalid:
        assert (
            events_decode(
                json.dumps(payload).encode(),
                max_events=2 if payload == [view()] * 3 else 50,
                now=NOW,
            )
            is None
        )


def test_whitespace_and_escapes_in_the_properties_keep_their_value():
    body = b'[{"type": "custom", "name": "n", "properties" : { "a" : "\\u00e9\\n" , "b": [ 1 ] } }]'

    (event,) = events_decode(body, max_events=50, now=NOW)

    assert json.loads(event.properties_json) == {"a": "é\n", "b": [1]}
