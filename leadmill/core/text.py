"""The one input edge for text: what Leadmill accepts from the outside world.

Every public edge (forms, the collect endpoint and its pixel, the API, imports) asks this
module whether a piece of text or a decoded JSON value may be stored, so a value is refused
with a clear message at the door instead of failing later in the worker, in PostgreSQL or in
an export. The rules:

- text is valid Unicode that UTF-8 can encode: no lone surrogates (``"\\ud800"``), and no
  U+FFFD, which is what a decoder leaves where the bytes were not UTF-8 (``%ff%fe``);
- no NUL and no C0 / C1 control characters, except tab, and newline / carriage return in
  multi-line fields (a message, a note);
- numbers are finite (no NaN or Infinity) and integers fit a 64-bit column;
- nested values are bounded in depth, key count and encoded size.

Functions that *check* return a message (a sentence for the person, or ``None`` when the
value is fine): the edge puts it on the field that held the value; those that *decode* raise
:class:`~leadmill.core.errors.ValidationFailed` with ``field_errors``.
:func:`text_for_export` is the defence in depth on the way out: an export escapes what its
format cannot hold instead of breaking on it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .errors import ValidationFailed

# C0 controls but tab (\t), newline (\n) and carriage return (\r), DEL, and the C1 controls.
_CONTROL_MULTI_LINE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_NOT_ALLOWED_MULTI_LINE = re.compile(f"[{_CONTROL_MULTI_LINE}\ud800-\udfff\ufffd]")
_NOT_ALLOWED_SINGLE_LINE = re.compile(f"[{_CONTROL_MULTI_LINE}\n\r\ud800-\udfff\ufffd]")
# What an XLSX cell cannot hold (XML 1.0 forbids these); CSV readers choke on NUL alike.
_NOT_EXPORTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# What no column of either engine can hold: NUL (PostgreSQL text and jsonb refuse it) and
# lone surrogates (UTF-8 cannot encode them).
_NOT_STORABLE = re.compile("[\x00\ud800-\udfff]")
# Text a spreadsheet reads as a formula (CSV / formula injection); a signed number or a
# phone number ("+55 11 98765-4321") is left as it is.
_FORMULA = re.compile(r"^(?:[=@\t\r]|[+-](?![\d\s().-]*$))")

MAX_DEPTH = 5
MAX_KEYS = 100
MAX_INT = 2**63 - 1


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` may not be stored, as a sentence for the person; ``None`` if it may."""
    pattern = _NOT_ALLOWED_MULTI_LINE if multiline else _NOT_ALLOWED_SINGLE_LINE
    found = pattern.search(value)
    if found is None:
        return None
    character = found.group()
    if "\ud800" <= character <= "\udfff" or character == "\ufffd":
        return _("This text is not valid UTF-8; send it again as UTF-8 text.")
    if character in "\n\r":
        return _("Line breaks are not allowed here; write it on one line.")
    return _(
        "Remove the invisible control character (U+%(code)04X); only letters, digits, "
        "punctuation and spaces are allowed."
    ) % {"code": ord(character)}


def bytes_decode(raw: bytes, *, field: str = "body") -> str:
    """Strict UTF-8 decoding of a request body or a file; raises ValidationFailed."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = _("The text is not valid UTF-8 (at byte %(position)d); send it as UTF-8.") % {
            "position": exc.start
        }
        raise ValidationFailed(message, field_errors={field: [message]}) from exc


def text_for_storage(value: str) -> str:
    """``value`` with what no column can hold (NUL, lone surrogates) replaced by U+FFFD.

    Not a way to accept text: for the verbatim copy of a post that is refused (kept so
    nothing a person sent is lost) and for request headers, which are stored as sent.
    """
    return _NOT_STORABLE.sub("\ufffd", value) if _NOT_STORABLE.search(value) else value


def json_object_decode(
    body: bytes, *, field: str = "body"
) -> tuple[dict[str, Any], dict[str, str]]:
    """The members of a JSON object body, and why each member that cannot be taken cannot.

    Returns ``(members, problems)``: ``problems`` maps a member's name to a sentence for
    the person, for a member nested too deeply to decode (its value is left out of
    ``members``). Bytes that are not UTF-8 inside a string become lone surrogates, so
    :func:`text_problem` names the field that held them; the caller checks the values
    (:func:`value_problem`). Raises ValidationFailed naming ``field`` when the body is not
    a JSON object.
    """
    text = body.decode("utf-8", errors="surrogateescape")
    try:
        try:
            members = json.loads(text or "{}")
        except RecursionError:
            return _json_members_decode(text)
    except ValueError:  # includes the digits limit of huge integers
        members = None
    if not isinstance(members, dict):
        message = _("The body could not be read: send a JSON object.")
        raise ValidationFailed(message, code="malformed", field_errors={field: [message]})
    return members, {}


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()


def _json_members_decode(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`json_object_decode` for a body too deep for the recursive decoder: the
    object's members one by one, a member that is too deep skipped (iteratively) and
    named. Raises ValueError for a body that is not a JSON object."""
    members: dict[str, Any] = {}
    problems: dict[str, str] = {}
    at = _WHITESPACE.match(text, 0).end()
    if text[at : at + 1] != "{":
        raise ValueError("not an object")
    at = _WHITESPACE.match(text, at + 1).end()
    if text[at : at + 1] == "}":
        return members, problems
    while True:
        if text[at : at + 1] != '"':
            raise ValueError("expected a member name")
        name, at = json.decoder.scanstring(text, at + 1)
        at = _WHITESPACE.match(text, at).end()
        if text[at : at + 1] != ":":
            raise ValueError("expected ':'")
        at = _WHITESPACE.match(text, at + 1).end()
        try:
            members[name], at = _decoder.raw_decode(text, at)
        except RecursionError:
            members.pop(name, None)
            problems[name] = _("This value is nested too deeply (at most %(depth)d levels).") % {
                "depth": MAX_DEPTH
            }
            at = _json_value_skip(text, at)
        at = _WHITESPACE.match(text, at).end()
        if text[at : at + 1] == "}":
            if _WHITESPACE.match(text, at + 1).end() != len(text):
                raise ValueError("extra data")
            return members, problems
        if text[at : at + 1] != ",":
            raise ValueError("expected ',' or '}'")
        at = _WHITESPACE.match(text, at + 1).end()


def _json_value_skip(text: str, at: int) -> int:
    """Where the JSON array or object starting at ``at`` ends, without recursion (its
    strings are scanned so brackets inside them do not count)."""
    depth = 0
    while at < len(text):
        character = text[at]
        if character == '"':
            _string, at = json.decoder.scanstring(text, at + 1)
            continue
        if character in "[{":
            depth += 1
        elif character in "]}":
            depth -= 1
            if depth == 0:
                return at + 1
        at += 1
    raise ValueError("unterminated value")


def value_problem(
    value: Any, *, max_depth: int = MAX_DEPTH, max_keys: int = MAX_KEYS
) -> str | None:
    """Why a decoded JSON value (str, number, bool, None, list, dict) may not be stored.

    Strings are checked as multi-line text, numbers must be finite and integers fit in 64
    bits, and containers are bounded: ``max_depth`` levels, ``max_keys`` keys or items in
    each. Iterative, so a 5,000-deep value costs no recursion.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item, multiline=True)
            if problem is not None:
                return problem
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -MAX_INT <= item <= MAX_INT:
                return _("This number is too large; numbers must be between -2^63 and 2^63.")
        elif isinstance(item, float):
            if not math.isfinite(item):
                return _("Numbers must be finite (NaN and Infinity are not allowed).")
        elif isinstance(item, Mapping | list | tuple):
            if depth > max_depth:
                return _("This value is nested too deeply (at most %(depth)d levels).") % {
                    "depth": max_depth
                }
            if len(item) > max_keys:
                return _("This value has too many entries (at most %(count)d).") % {
                    "count": max_keys
                }
            if isinstance(item, Mapping):
                for key, child in item.items():
                    if not isinstance(key, str):
                        return _("Keys must be text.")
                    stack.append((key, depth + 1))
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        else:
            return _("Only text, numbers, true / false, lists and objects are allowed.")
    return None


@deconstructible
class TextValidator:
    """A Django validator for form and model fields: ``CharField(validators=[TextValidator()])``."""

    code = "invalid_characters"
    message = gettext_lazy("This text contains characters that cannot be stored.")

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value: Any) -> None:
        if isinstance(value, str):
            problem = text_problem(value, multiline=self.multiline)
            if problem is not None:
                raise ValidationError(problem, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextValidator) and other.multiline == self.multiline


def text_for_export(value: Any) -> Any:
    """A cell value that CSV and XLSX writers take whatever was stored.

    Characters an XLSX cell cannot hold become U+FFFD, and text a spreadsheet would read as
    a formula gets a leading apostrophe. Non-text values pass through.
    """
    if not isinstance(value, str):
        return value
    value = _NOT_EXPORTABLE.sub("\ufffd", value)
    if _FORMULA.match(value):
        value = "'" + value
    return value


def text_json_schema_pattern(*, multiline: bool = False) -> str:
    """The JSON Schema ``pattern`` (ECMA-262) of the text :func:`text_problem` accepts, for
    API schemas that must say what the edge refuses. Lone surrogates are left out: they are
    not Unicode scalar values, so no JSON Schema string holds one."""
    excluded = _CONTROL_MULTI_LINE + ("" if multiline else "\n\r") + "\ufffd"
    escaped = "".join(
        character if character == "-" else f"\\u{ord(character):04x}" for character in excluded
    )
    return f"^[^{escaped}]*$"
