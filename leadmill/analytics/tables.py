"""The tables of the analytics screens, built once and shown, charted and exported alike.

A :class:`Table` holds raw values (numbers, rates as fractions, money as ``Decimal``); the
screen formats them in the reader's language, the CSV export writes them plain (rates as
fractions, money as decimal text) so a spreadsheet reads them as numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.utils import formats
from django.utils.safestring import SafeString

from leadmill.core.text import text_for_export

from . import charts


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text, int (or a fractional credit), rate, points, money, days, ...
    help: str = ""
    approximate: bool = False  # shown with "≈" (its label should say so too)


@dataclass
class Table:
    id: str
    title: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    caption: str = ""
    total: list | None = None

    def display(self, value, column: Column) -> str:
        shown = self._display(value, column)
        if column.approximate and not isinstance(value, str) and value is not None:
            return f"≈ {shown}"
        return shown

    def _display(self, value, column: Column) -> str:
        if value is None or value == "":
            return "—" if column.kind != "text" else ""
        if isinstance(value, str):  # a label in a number column ("Total", "—")
            return value
        if column.kind == "int":  # fractional credits (ADR 60) with one decimal
            return charts.count(value)
        if column.kind == "rate":
            return charts.percent(value)
        if column.kind == "points":  # percentage points, two decimals
            return formats.number_format(value, 2, use_l10n=True)
        if column.kind == "money":
            return charts.money(value)
        if column.kind == "days":
            return charts.number(value)
        if column.kind == "seconds":
            return charts.number(round(value))
        if column.kind == "date" and isinstance(value, dt.date):
            return formats.date_format(value, "SHORT_DATE_FORMAT")
        return str(value)

    def shown_rows(self) -> list[list[str]]:
        return [
            [self.display(value, column) for value, column in zip(row, self.columns, strict=True)]
            for row in self.rows
        ]

    def shown_total(self) -> list[str] | None:
        if self.total is None:
            return None
        return [
            self.display(value, column)
            for value, column in zip(self.total, self.columns, strict=True)
        ]

    def definitions(self) -> list[tuple[str, str]]:
        return [(column.label, column.help) for column in self.columns if column.help]


def _plain(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return text_for_export(str(value))


def csv_response(table: Table, *, filename: str) -> HttpResponse:
    """The table as a CSV download: the header row, every row, the total last."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([column.label for column in table.columns])
    for row in table.rows:
        writer.writerow([_plain(value) for value in row])
    if table.total is not None:
        writer.writerow([_plain(value) for value in table.total])
    return response


def table_and_bars(
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    bars_title: str,
    bar: str,
    most: int | None = None,
    formatter: Callable = charts.number,
    charted: Callable[[list], bool] | None = None,
    label: Callable[[list], str] | None = None,
) -> tuple[Table, SafeString | None]:
    """``table`` filled with ``rows`` (each keyed by the table's column keys), and a chart
    of one horizontal bar per row (the first ``most``, of those ``charted`` keeps): the
    row's first column as its label (or ``label(row)``), its ``bar`` column as its value;
    no chart when no row is charted."""
    table.rows = [[row[column.key] for column in table.columns] for row in rows]
    value = [column.key for column in table.columns].index(bar)
    shown = [row for row in table.rows if charted is None or charted(row)][:most]
    if not shown:
        return table, None
    chart = charts.horizontal_bars_chart(
        title=bars_title,
        bars=[(label(row) if label else row[0], row[value]) for row in shown],
        formatter=formatter,
    )
    return table, chart
