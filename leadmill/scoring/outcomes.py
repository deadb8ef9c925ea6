"""Importing past leads with their outcome (won / lost, value, date) to train on."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.contacts.models import Outcome
from leadmill.contacts.services import PROFILE_FIELDS, Touch, contact_update, contact_upsert
from leadmill.core.errors import ValidationFailed

from .tabular import CsvFile, is_missing

logger = logging.getLogger(__name__)


# Columns of an outcomes file that fill a contact's first touch rather than custom fields.
_TOUCH_COLUMNS = {
    "source": "source",
    "first_source": "source",
    "medium": "medium",
    "first_medium": "medium",
    "campaign": "campaign",
    "first_campaign": "campaign",
}
IMPORT_BATCH_SIZE = 500


@dataclasses.dataclass
class OutcomesImport:
    """What an import did: contacts created and updated, and each skipped line with its reason."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    won: int = 0
    lost: int = 0
    skipped: list[tuple[int, str]] = dataclasses.field(default_factory=list)


def _custom_key(column: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_")[:50] or "column"


def _outcome_at(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            _("the date %(date)r is not a date like 2024-05-31") % {"date": text}
        ) from None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _outcome_value(text: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValueError(_("the value %(value)r is not a number like 1500.00") % {"value": text})
    return value.quantize(Decimal("0.01"))


def outcomes_import(
    *,
    source: CsvFile,
    email_column: str,
    outcome_column: str,
    won: str,
    lost: str | None = None,
    value_column: str | None = None,
    date_column: str | None = None,
    batch_size: int = IMPORT_BATCH_SIZE,
) -> OutcomesImport:
    """Load past leads with their outcome into contacts, ``batch_size`` rows per transaction.

    Each row goes through :func:`leadmill.contacts.services.contact_upsert` (one person, one
    contact: an email already known updates that contact), then the outcome is recorded with
    :func:`leadmill.contacts.services.contact_update`. The outcome is won when the outcome
    column equals ``won``; lost when it equals ``lost`` or, without ``lost``, any other
    value. Columns named like a profile field (role, segment, country …) fill it;
    source / medium / campaign fill the first touch; the rest become custom fields (key:
    the column name in lower case, ``_`` for other characters). No consent is recorded, so
    imported contacts are not emailed.

    A row with no outcome, a bad email, value or date is skipped with its reason; the other
    rows are kept. Raises ValidationFailed when a named column is not in the file.
    """
    named = {
        "email": email_column,
        "outcome": outcome_column,
        "value": value_column,
        "date": date_column,
    }
    absent = [f"{column!r}" for column in named.values() if column and column not in source.columns]
    if absent:
        raise ValidationFailed(
            _("%(file)s has no column %(columns)s (its columns: %(all)s).")
            % {
                "file": source.path.name,
                "columns": ", ".join(absent),
                "all": ", ".join(source.columns),
            },
            code="unknown_column",
        )
    report = OutcomesImport()
    batch: list[tuple[int, dict[str, str]]] = []
    for line, values in source.rows():
        batch.append((line, dict(zip(source.columns, values, strict=True))))
        if len(batch) >= batch_size:
            _outcomes_import_batch(
                batch, report, named=named, won=won, lost=lost, cause=source.path.name
            )
            batch = []
    if batch:
        _outcomes_import_batch(
            batch, report, named=named, won=won, lost=lost, cause=source.path.name
        )
    logger.info(
        "outcomes import of %s: %s rows, %s created, %s updated, %s skipped",
        source.path.name,
        report.rows,
        report.created,
        report.updated,
        len(report.skipped),
    )
    return report


def _outcomes_import_batch(
    batch: list[tuple[int, dict[str, str]]],
    report: OutcomesImport,
    *,
    named: dict[str, str | None],
    won: str,
    lost: str | None,
    cause: str,
) -> None:
    special = {column for column in named.values() if column}
    with transaction.atomic():
        for line, row in batch:
            report.rows += 1
            raw_outcome = row[named["outcome"]]
            if raw_outcome == won:
                outcome = Outcome.WON
            elif (lost is None and not is_missing(raw_outcome)) or (
                lost is not None and raw_outcome == lost
            ):
                outcome = Outcome.LOST
            else:
                report.skipped.append(
                    (
                        line,
                        _("the outcome %(value)r is neither won nor lost") % {"value": raw_outcome},
                    )
                )
                continue
            try:
                value = _outcome_value(row[named["value"]]) if named["value"] else None
                at = _outcome_at(row[named["date"]]) if named["date"] else None
            except ValueError as exc:
                report.skipped.append((line, str(exc)))
                continue
            profile, touch, custom = {}, {}, {}
            for column, text in row.items():
                if column in special or is_missing(text):
                    continue
                if column in PROFILE_FIELDS:
                    profile[column] = text
                elif column == "phone":
                    continue
                elif column in _TOUCH_COLUMNS:
                    touch[_TOUCH_COLUMNS[column]] = text
                else:
                    custom[_custom_key(column)] = text
            try:
                result = contact_upsert(
                    email=row[named["email"]],
                    phone=row.get("phone", ""),
                    profile=profile,
                    custom=custom,
                    touch=Touch(**touch, occurred_at=at) if touch else None,
                    cause=_("imported with its outcome from %(file)s") % {"file": cause},
                )
            except ValidationFailed as exc:
                report.skipped.append((line, exc.message))
                continue
            contact_update(
                contact=result.contact,
                changes={"outcome": outcome, "outcome_value": value, "outcome_at": at},
            )
            report.created += result.created
            report.updated += not result.created
            report.won += outcome == Outcome.WON
            report.lost += outcome == Outcome.LOST
