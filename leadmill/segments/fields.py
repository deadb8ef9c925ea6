"""The vocabulary of segment conditions: what a marketer may filter on, with which
operators and values, how a definition is checked (:func:`condition_errors`, messages a
marketer can act on) and what the filter builder offers (:func:`catalogue`).

A condition is a dict with a ``field`` and, by field kind:

- contact or company text: ``{"field": "country", "op": "equals", "value": "BR"}``
- dates: ``{"field": "created_at", "op": "within_days", "value": 90}``
- custom fields: ``{"field": "custom.employees", "op": "gte", "value": 50}``
- scores: ``{"field": "score.total", "op": "gte", "value": 40}`` (predictive: percent)
- consent: ``{"field": "has_consent", "value": "newsletter"}`` (empty: any marketing purpose)
- events: ``{"field": "event", "event_type": "page_view", "url_contains": "/pricing",
  "name_contains": "", "at_least": 2, "within_days": 30}``
- other segments: ``{"field": "in_segment", "value": 7}`` / ``{"field": "not_in_segment", ...}``

Any condition may add ``"negate": true``. :mod:`.conditions` turns them into SQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import re
from typing import Any

from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from leadmill.consent.models import Purpose
from leadmill.contacts.models import LifecycleStage, Temperature
from leadmill.tracking.models import TOUCH_CHANNEL_CHOICES, EventType
from leadmill.tracking.sources import CLASSIFIED_MEDIUMS, KNOWN_SOURCES, source_canonical

TEXT_OPS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "in",
    "not_in",
    "is_empty",
    "is_not_empty",
)
CHOICE_OPS = ("equals", "not_equals", "in", "not_in")
DATE_OPS = ("within_days", "older_than_days", "before", "after", "is_empty", "is_not_empty")
CUSTOM_OPS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "gt",
    "gte",
    "lt",
    "lte",
    "before",
    "after",
    "is_empty",
    "is_not_empty",
)
NUMBER_OPS = ("gt", "gte", "lt", "lte")
NEGATIVE_OPS = {
    "not_equals": "equals",
    "not_contains": "contains",
    "not_in": "in",
    "is_not_empty": "is_empty",
}
ZERO_TESTS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
NUMBER_LOOKUPS = {
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
}
CUSTOM_PREFIX = "custom."
CUSTOM_KEY = re.compile(r"^(?!.*__)(?![0-9]+$)[A-Za-z0-9_-]{1,50}$")

OPERATOR_LABELS = {
    "equals": _("is"),
    "not_equals": _("is not"),
    "contains": _("contains"),
    "not_contains": _("does not contain"),
    "starts_with": _("starts with"),
    "in": _("is one of"),
    "not_in": _("is none of"),
    "is_empty": _("is empty"),
    "is_not_empty": _("is not empty"),
    "within_days": _("within the last … days"),
    "older_than_days": _("more than … days ago"),
    "before": _("before (date)"),
    "after": _("after (date)"),
    "gt": _("greater than"),
    "gte": _("at least"),
    "lt": _("less than"),
    "lte": _("at most"),
}


@dataclasses.dataclass(frozen=True)
class Field:
    """One thing a condition can test. ``lookup`` is the ORM path; ``kind`` picks the
    operators; ``case`` says how a text value is compared (``"i"``: case-insensitively,
    ``"upper"``/``"lower"``: normalised then exactly, which an index can serve)."""

    key: str
    label: Any
    kind: str
    lookup: str = ""
    case: str = "i"
    choices: tuple = ()
    suggestions: tuple[str, ...] = ()  # offered while typing; any text is still allowed
    canonical: Any = None  # str -> str: how a value the marketer typed is stored (equals / in)


def _text(key, label, lookup=None, case="i", **extra):
    return Field(key, label, "text", lookup or key, case, **extra)


def _source(key, label):
    """A touch's source: names from the one source vocabulary (``IG`` finds ``instagram``)."""
    return _text(key, label, suggestions=KNOWN_SOURCES, canonical=source_canonical)


def _medium(key, label):
    return _text(key, label, suggestions=CLASSIFIED_MEDIUMS)


def _channel(key, label):
    return Field(key, label, "choice", key, choices=TOUCH_CHANNEL_CHOICES)


FIELDS: dict[str, Field] = {
    field.key: field
    for field in (
        _text("email", _("Email"), case="lower"),
        _text("first_name", _("First name")),
        _text("last_name", _("Last name")),
        _text("company_name", _("Company name")),
        _text("role", _("Role")),
        _text("company_size", _("Company size")),
        _text("segment", _("Segment / industry")),
        _text("country", _("Country (2 letters)"), case="upper"),
        _text("language", _("Language")),
        Field(
            "lifecycle_stage",
            _("Lifecycle stage"),
            "choice",
            "lifecycle_stage",
            choices=tuple(LifecycleStage.choices),
        ),
        Field(
            "temperature",
            _("Temperature"),
            "choice",
            "temperature",
            choices=tuple(Temperature.choices),
        ),
        _channel("first_channel", _("First touch channel")),
        _source("first_source", _("First touch source")),
        _medium("first_medium", _("First touch medium")),
        _text("first_campaign", _("First touch campaign")),
        _channel("last_channel", _("Last touch channel")),
        _source("last_source", _("Last touch source")),
        _medium("last_medium", _("Last touch medium")),
        _text("last_campaign", _("Last touch campaign")),
        Field("created_at", _("Created"), "date", "created_at"),
        Field("first_touch_at", _("First touch"), "date", "first_touch_at"),
        Field("last_touch_at", _("Last touch"), "date", "last_touch_at"),
        Field("stage_changed_at", _("Stage changed"), "date", "stage_changed_at"),
        _text("company.name", _("Company: name"), "company__name"),
        _text("company.size", _("Company: size"), "company__size"),
        _text("company.industry", _("Company: industry"), "company__industry"),
        _text("company.country", _("Company: country"), "company__country", case="upper"),
        Field("score.fit", _("Fit score"), "score"),
        Field("score.engagement", _("Engagement score"), "score"),
        Field("score.total", _("Total score (fit + engagement)"), "score"),
        Field("score.predictive", _("Predicted chance to convert (%)"), "score"),
        Field("has_consent", _("Has consent"), "consent"),
        Field("event", _("Did"), "event", choices=tuple(EventType.choices)),
        Field("in_segment", _("Is in segment"), "segment"),
        Field("not_in_segment", _("Is not in segment"), "segment"),
    )
}
ALIASES = {
    "company__size": "company.size",
    "company__industry": "company.industry",
    "company__country": "company.country",
    "company__name": "company.name",
}
OPS_BY_KIND = {
    "text": TEXT_OPS,
    "choice": CHOICE_OPS,
    "date": DATE_OPS,
    "custom": CUSTOM_OPS,
    "score": NUMBER_OPS,
}


def field_of(key: Any) -> Field | None:
    """The field a condition names, custom fields included; None when unknown."""
    if not isinstance(key, str):
        return None
    key = ALIASES.get(key, key)
    if key.startswith(CUSTOM_PREFIX):
        custom_key = key[len(CUSTOM_PREFIX) :]
        if not CUSTOM_KEY.match(custom_key):
            return None
        return Field(key, custom_key, "custom", f"custom__{custom_key}")
    return FIELDS.get(key)


# --- Validation ----------------------------------------------------------------------------------


def number_value(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def whole_days(value: Any) -> int | None:
    number = number_value(value)
    return (
        int(number)
        if number is not None and number == int(number) and 0 < number <= 36500
        else None
    )


def date_value(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def list_values(value: Any) -> list[str]:
    """A list of texts from a list or a comma / line separated text, blanks dropped."""
    items = value if isinstance(value, list | tuple) else re.split(r"[,\n]", str(value or ""))
    return [str(item).strip() for item in items if str(item).strip()]


def condition_errors(condition: Any, position: str) -> list[str]:
    """What is wrong with one (non-group) condition, as sentences a marketer can act on."""
    where = {"position": position}
    if not isinstance(condition, dict):
        return [_g("Condition %(position)s is not a condition.") % where]
    field = field_of(condition.get("field"))
    if field is None:
        return [_g("Condition %(position)s: choose what to filter on.") % where]
    where["field"] = str(field.label)
    op, value = condition.get("op"), condition.get("value")
    if field.kind in OPS_BY_KIND:
        if op not in OPS_BY_KIND[field.kind]:
            return [_g("Condition %(position)s: choose how to compare “%(field)s”.") % where]
        if op in ("is_empty", "is_not_empty"):
            return []
        if op in ("in", "not_in") and not list_values(value):
            return [_g("Condition %(position)s: list at least one value for “%(field)s”.") % where]
        if field.kind == "choice":
            allowed = {choice for choice, _label in field.choices}
            wanted = list_values(value) if op in ("in", "not_in") else [value]
            if any(item not in allowed for item in wanted):
                return [_g("Condition %(position)s: “%(field)s” has no such value.") % where]
            return []
        if op in ("within_days", "older_than_days") and whole_days(value) is None:
            return [
                _g("Condition %(position)s: enter a whole number of days for “%(field)s”.") % where
            ]
        if op in ("before", "after") and date_value(value) is None:
            return [
                _g("Condition %(position)s: enter a date as YYYY-MM-DD for “%(field)s”.") % where
            ]
        if op in NUMBER_OPS and number_value(value) is None:
            return [_g("Condition %(position)s: enter a number for “%(field)s”.") % where]
        if (
            op in ("equals", "not_equals", "contains", "not_contains", "starts_with")
            and str(value or "").strip() == ""
        ):
            return [_g("Condition %(position)s: enter a value for “%(field)s”.") % where]
        return []
    if field.kind == "consent":
        known = value in (None, "") or (
            isinstance(value, str) and Purpose.objects.filter(key=value.strip()).exists()
        )
        return [] if known else [_g("Condition %(position)s: choose a consent purpose.") % where]
    if field.kind == "segment":
        if number_value(value) is None or int(number_value(value)) != number_value(value):
            return [_g("Condition %(position)s: choose a segment.") % where]
        return []
    return _event_errors(condition, where)


def _event_errors(condition: dict, where: dict) -> list[str]:
    errors = []
    if condition.get("event_type") not in EventType.values:
        errors.append(_g("Condition %(position)s: choose which kind of event.") % where)
    at_least = condition.get("at_least", 1)
    if whole_days(at_least) is None:  # the same rule: a positive whole number
        errors.append(
            _g("Condition %(position)s: “at least” must be a whole number of times, 1 or more.")
            % where
        )
    if (
        condition.get("within_days") not in (None, "")
        and whole_days(condition.get("within_days")) is None
    ):
        errors.append(
            _g("Condition %(position)s: enter a whole number of days, or leave the period empty.")
            % where
        )
    return errors


def catalogue(*, custom_fields=(), purposes=(), segments=()) -> dict:
    """What the filter builder offers, as JSON-ready data: fields with their operators and
    choices, operator labels. ``custom_fields``: (key, label); ``purposes``: (key, name);
    ``segments``: (id, name)."""
    fields = []
    for field in FIELDS.values():
        entry = {
            "key": field.key,
            "label": str(field.label),
            "kind": field.kind,
            "ops": list(OPS_BY_KIND.get(field.kind, ())),
        }
        if field.choices:
            entry["choices"] = [[value, str(label)] for value, label in field.choices]
        if field.suggestions:
            entry["suggestions"] = list(field.suggestions)
        if field.kind == "consent":
            entry["choices"] = [
                ["", _g("Any marketing email")],
                *[[key, str(name)] for key, name in purposes],
            ]
        if field.kind == "segment":
            entry["choices"] = [[str(pk), str(name)] for pk, name in segments]
        fields.append(entry)
    for key, label in custom_fields:
        if CUSTOM_KEY.match(key):
            fields.append(
                {
                    "key": f"{CUSTOM_PREFIX}{key}",
                    "label": str(label),
                    "kind": "custom",
                    "ops": list(CUSTOM_OPS),
                }
            )
    return {
        "fields": fields,
        "operators": {op: str(label) for op, label in OPERATOR_LABELS.items()},
    }
