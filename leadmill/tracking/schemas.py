"""The input of the collect endpoint and the pixel, validated at the edge.

A batch is a JSON array of event objects::

    [{"type": "page_view", "url": "https://www.example.com/offer?utm_source=ig",
      "referrer": "https://l.instagram.com/", "visitor_id": "k3J9...", "ts": 1718000000000,
      "properties": {"title": "Offer"}, "utm": {"utm_source": "ig"}, "consent": true}]

Only ``type`` is always required (``url`` for a page view, ``name`` for a custom event).
Email opens and clicks are not accepted here: the messaging endpoints record them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any, Literal

import msgspec
from django.utils.translation import gettext as _

from leadmill.core.text import MAX_DEPTH, MAX_KEYS, text_problem, value_problem

from .models import EventType
from .sources import UTM_PARAMS

CLIENT_TYPES = (
    EventType.PAGE_VIEW,
    EventType.CTA_CLICK,
    EventType.FORM_VIEW,
    EventType.FORM_START,
    EventType.FORM_SUBMIT,
    EventType.FORM_FIELD,
    EventType.DOWNLOAD,
    EventType.CUSTOM,
)
_CLIENT_TYPE_VALUES = frozenset(str(kind) for kind in CLIENT_TYPES)
FIELDS = frozenset(
    {"type", "name", "url", "referrer", "visitor_id", "ts", "properties", "utm", "consent"}
)
# The first-party cookie that names a browser: set by the tracker (lm.js), or by the server on
# the first answer that needs it before the tracker ran (an A/B test's view, an email click).
VISITOR_COOKIE = "lm_vid"
VISITOR_COOKIE_AGE = 400 * 24 * 3600  # as the tracker's own (lm.js)
VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")  # fullmatch: "$" would let a final newline in
MAX_URL = 2000
MAX_NAME = 200
MAX_PROPERTIES_BYTES = 4096
MAX_CLOCK_SKEW = dt.timedelta(days=1)


class EventIn(msgspec.Struct, frozen=True, kw_only=True):
    """One validated event, ready for :func:`.services.events_ingest` (a struct: a batch
    makes many, and a dataclass took a tenth of the collect endpoint's time to build them)."""

    type: str
    occurred_at: dt.datetime
    name: str = ""
    url: str = ""
    referrer: str = ""
    visitor_id: str = ""
    properties: dict[str, Any] | None = msgspec.field(
        default_factory=dict
    )  # None: see properties_json
    utm: dict[str, str] = msgspec.field(default_factory=dict)
    consent: bool = False
    properties_json: str = ""  # ``properties`` as JSON when the parser already encoded it


class BatchInvalid(Exception):
    """The batch broke a rule; ``errors`` lists ``{"index", "field", "message"}``."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or []


def visitor_id_valid(value: Any) -> bool:
    return isinstance(value, str) and bool(VISITOR_ID.fullmatch(value))


def _is_http_url(value: str) -> bool:
    return value.startswith(("http://", "https://")) and len(value) > len("https://")


def _occurred_at(ts: Any, now: dt.datetime) -> dt.datetime:
    """The client's time, trusted only within a day before now and never in the future."""
    if ts is None:
        return now
    try:
        moment = dt.datetime.fromtimestamp(ts / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return now
    return min(now, max(now - MAX_CLOCK_SKEW, moment))


def _event_parse(
    index: int, raw: Any, now: dt.datetime, errors: list[dict[str, Any]]
) -> EventIn | None:
    def error(field: str, message: str) -> None:
        errors.append({"index": index, "field": field, "message": message})

    if not isinstance(raw, dict):
        error("", _("Each event must be a JSON object."))
        return None
    before = len(errors)
    if unknown := raw.keys() - FIELDS:
        for field in sorted(unknown):
            error(
                field,
                _("Unknown field; the fields are: %(fields)s.")
                % {"fields": ", ".join(sorted(FIELDS))},
            )
    kind = raw.get("type")
    if (
        not isinstance(kind, str) or kind not in _CLIENT_TYPE_VALUES
    ):  # a list or object is unhashable
        error("type", _("The type must be one of: %(types)s.") % {"types": ", ".join(CLIENT_TYPES)})
    texts = {}
    for field, limit in (("name", MAX_NAME), ("url", MAX_URL), ("referrer", MAX_URL)):
        value = raw.get(field, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            error(field, _("This must be a string."))
        elif len(value) > limit:
            error(field, _("This is longer than %(limit)d characters.") % {"limit": limit})
        texts[field] = value.strip() if isinstance(value, str) else ""
    for field, value in texts.items():
        if problem := text_problem(value):  # the one input edge: leadmill.core.text
            error(field, problem)
    if texts["url"] and not _is_http_url(texts["url"]):
        error("url", _("The URL must start with http:// or https://."))
    if kind == EventType.PAGE_VIEW and not texts["url"]:
        error("url", _("A page view needs the URL of the page."))
    if kind == EventType.CUSTOM and not texts["name"]:
        error("name", _("A custom event needs a name."))
    visitor_id = raw.get("visitor_id") or ""
    if visitor_id and not visitor_id_valid(visitor_id):
        error("visitor_id", _("The visitor id must be 16 to 64 letters, digits, '-' or '_'."))
    ts = raw.get("ts")
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int | float)):
        error("ts", _("The time must be a number of milliseconds since 1970."))
    properties = raw.get("properties") or {}
    properties_json = "{}"
    if not isinstance(properties, dict):
        error("properties", _("The properties must be a JSON object."))
    elif problem := value_problem(properties):  # before json.dumps: NaN, too deep, NUL, …
        error("properties", problem)
    elif (
        properties
        and len(properties_json := json.dumps(properties, separators=(",", ":")))
        > MAX_PROPERTIES_BYTES
    ):
        error(
            "properties",
            _("The properties are larger than %(limit)d bytes.") % {"limit": MAX_PROPERTIES_BYTES},
        )
    utm = raw.get("utm") or {}
    if not isinstance(utm, dict) or any(
        key not in UTM_PARAMS or not isinstance(value, str) or len(value) > 200
        for key, value in utm.items()
    ):
        error(
            "utm",
            _("utm must be an object of %(names)s strings (at most 200 characters).")
            % {"names": ", ".join(UTM_PARAMS)},
        )
    elif problem := next(
        filter(None, (text_problem(value.strip()) for value in utm.values())), None
    ):
        error("utm", problem)
    consent = raw.get("consent", False)
    if not isinstance(consent, bool):
        error("consent", _("consent must be true or false."))
    if len(errors) > before:
        return None
    return EventIn(
        type=kind,
        occurred_at=_occurred_at(ts, now),
        name=texts["name"],
        url=texts["url"],
        referrer=texts["referrer"],
        visitor_id=visitor_id,
        properties=properties,
        utm={key: value.strip() for key, value in utm.items() if value.strip()},
        consent=consent,
        properties_json=properties_json,
    )


def events_parse(payload: Any, *, max_events: int, now: dt.datetime) -> list[EventIn]:
    """Validate a decoded JSON batch. Raises :class:`BatchInvalid` listing every error;
    a batch is stored whole or not at all."""
    if not isinstance(payload, list):
        raise BatchInvalid(_("Send a JSON array of events."))
    if not payload:
        raise BatchInvalid(_("The batch holds no events."))
    if len(payload) > max_events:
        raise BatchInvalid(_("Send at most %(max)d events per request.") % {"max": max_events})
    errors: list[dict[str, Any]] = []
    parsed = [_event_parse(index, raw, now, errors) for index, raw in enumerate(payload)]
    if errors:
        raise BatchInvalid(_("Some events are invalid; nothing was stored."), errors[:50])
    return [event for event in parsed if event is not None]


# --- the fast path: a well-formed batch decoded and checked in C ---------------------------


_ClientType = Literal[tuple(_CLIENT_TYPE_VALUES)]  # type: ignore[valid-type]
_Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME)]
_Url = Annotated[str, msgspec.Meta(max_length=MAX_URL)]
_Utm = dict[Literal[UTM_PARAMS], Annotated[str, msgspec.Meta(max_length=200)]]  # type: ignore[valid-type]


class _WellFormed(msgspec.Struct, forbid_unknown_fields=True):
    """The shape of an event that :func:`events_decode` takes, checked in C; anything else
    (a ``null`` field, a falsy stand-in, a field too long, …) goes to :func:`events_parse`."""

    type: _ClientType
    name: _Name = ""
    url: _Url = ""
    referrer: _Url = ""
    visitor_id: str = (
        ""  # checked in the loop, once per batch's visitor (a pattern here costs 3x the decode)
    )
    ts: int | float | None = None
    properties: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    utm: _Utm = msgspec.field(default_factory=dict)
    consent: bool = False


_batch_decoder = msgspec.json.Decoder(list[_WellFormed])
_SAFE_PROPERTIES_BYTES = (
    MAX_PROPERTIES_BYTES // 3
)  # escaped for json.dumps, a UTF-8 byte is at most 3 characters
_PAGE_VIEW, _CUSTOM = str(EventType.PAGE_VIEW), str(EventType.CUSTOM)


# What the one input edge (leadmill.core.text) may refuse, as it can appear in JSON text:
# escaped C0 / C1 controls, DEL, surrogates and U+FFFD (raw C0 controls are not JSON; lone
# surrogates cannot be UTF-8), and the same raw. Harmless text matches too (an escaped "é",
# a backslash before "u00"); such a batch is merely left to the full parser.
_SUSPICIOUS_ESCAPE = re.compile(
    rb"\\(?:u(?:00[0189]|007[fF]|[dD][89a-fA-F]|[fF][fF][fF][dD])|[bf])"
)
_RAW_C1 = re.compile(rb"\xc2[\x80-\x9f]")


def _suspicious(body: bytes) -> bool:
    """Whether the body may hold text the edge refuses. Four byte searches in the common
    case (no backslash, no DEL, no U+0080-U+00BF, no U+FFFD); a regular expression only
    where one of them is found (one alternation over the whole body cost 5x more)."""
    return (
        (b"\\" in body and _SUSPICIOUS_ESCAPE.search(body) is not None)
        or b"\x7f" in body
        or (b"\xc2" in body and _RAW_C1.search(body) is not None)
        or b"\xef\xbf\xbd" in body
    )


# Numbers that may not be finite or may not fit 64 bits (19 digits, a 3-digit exponent).
_BIG_NUMBER = re.compile(rb"[0-9]{19}|[eE][+-]?[0-9]{3}")


def _properties_plain(properties: bytes) -> bool:
    """Whether the full parser surely takes these properties as they are: few enough
    brackets and commas that :func:`leadmill.core.text.value_problem`'s depth and entry
    bounds hold, and no number that may be too large. Text in the properties may count
    against them; that only leaves the batch to the full parser."""
    return (
        properties.count(b"{") + properties.count(b"[") <= MAX_DEPTH
        and properties.count(b",") < MAX_KEYS
        and not _BIG_NUMBER.search(properties)
    )


def events_decode(body: bytes, *, max_events: int, now: dt.datetime) -> list[EventIn] | None:
    """The events of a well-formed batch, as :func:`events_parse` would return them, or
    ``None`` when the body needs :func:`events_parse` to judge it (errors and odd cases).

    The collect endpoint's common case: one C decode of the body, typed and checked, with
    the properties kept as the client's JSON text, then the few checks msgspec cannot
    express. ``tracking/tests/test_schemas.py`` holds both functions to the same answers.
    """
    if _suspicious(body):  # text the input edge may refuse: let the full parser judge
        return None
    try:
        raw_events = _batch_decoder.decode(body)
    except (
        msgspec.DecodeError,
        RecursionError,
        UnicodeDecodeError,
    ):  # not UTF-8: the full parser says so
        return None
    if not raw_events or len(raw_events) > max_events:
        return None
    events, visitor_ok = [], ""
    line_breaks = b"\\n" in body or b"\\r" in body  # allowed in properties only
    for raw in raw_events:
        kind, name, url, visitor_id = raw.type, raw.name.strip(), raw.url.strip(), raw.visitor_id
        referrer, utm = raw.referrer.strip(), raw.utm
        if utm:
            utm = {key: value.strip() for key, value in utm.items()}
        if line_breaks and any(
            "\n" in text or "\r" in text for text in (name, url, referrer, *utm.values())
        ):
            return None
        if visitor_id and visitor_id != visitor_ok:
            if not visitor_id_valid(visitor_id):
                return None
            visitor_ok = visitor_id
        if url:
            if not _is_http_url(url):
                return None
        elif kind == _PAGE_VIEW:
            return None
        if kind == _CUSTOM and not name:
            return None
        properties = bytes(raw.properties)
        if not properties:
            properties_json = "{}"
        elif (
            properties[:1] == b"{"
            and len(properties) <= _SAFE_PROPERTIES_BYTES
            and _properties_plain(properties)
        ):
            properties_json = properties.decode()
        else:
            return None
        if utm:
            utm = {key: value for key, value in utm.items() if value}
        ts = raw.ts
        events.append(
            EventIn(
                type=kind,
                occurred_at=now if ts is None else _occurred_at(ts, now),
                name=name,
                url=url,
                referrer=referrer,
                visitor_id=visitor_id,
                properties=None,
                utm=utm,
                consent=raw.consent,
                properties_json=properties_json,
            )
        )
    return events
