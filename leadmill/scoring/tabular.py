"""Tabular data for the predictive score: rows of text values, read from a CSV file or built
from contacts, and the kind of each column (numeric or categorical).

Pure Python (the csv module and numpy): no Django, so the same code backs the ``scoring
evaluate`` backtest on a file and the trainer on contacts.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

# Values that mean "not known". In categorical columns they all become one category,
# MISSING, which is often informative ("unknown" credit default says something); in numeric
# columns they become NaN.
MISSING = "unknown"
MISSING_TOKENS = frozenset({"", "unknown", "na", "n/a", "nan", "null", "none", "?", "-"})

# A text column with more distinct values than this share of its rows is an identifier
# (an email, a name, an order number): it cannot generalise, so it is not a feature.
IDENTIFIER_SHARE = 0.5
IDENTIFIER_MIN_DISTINCT = 50


class TableError(ValueError):
    """The data cannot be used as asked; the message is a sentence for the person running it."""


@dataclasses.dataclass
class Table:
    """Columns of text values, all of one length, in file order (the order time split uses)."""

    columns: dict[str, list[str]]

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def take(self, indices: Sequence[int] | np.ndarray) -> Table:
        return Table({name: [values[i] for i in indices] for name, values in self.columns.items()})

    def without(self, names: Iterable[str]) -> Table:
        dropped = set(names)
        return Table({name: values for name, values in self.columns.items() if name not in dropped})


def table_from_rows(
    rows: Sequence[Mapping[str, object]], *, columns: Sequence[str] | None = None
) -> Table:
    """A table from a list of dicts; absent or None values become empty text."""
    names = (
        list(columns)
        if columns is not None
        else list(dict.fromkeys(k for row in rows for k in row))
    )
    return Table(
        {
            name: ["" if row.get(name) is None else str(row.get(name)) for row in rows]
            for name in names
        }
    )


class CsvFile:
    """A CSV file read one row at a time, its ``exclude`` columns dropped as each line is split.

    An excluded column's values are never stored, converted or looked at: the csv module
    splits each line into fields and the excluded positions are discarded right there, so a
    leak (a column known only after the outcome) or garbage in it cannot reach a model.

    Raises TableError for a missing or empty file, an excluded column that is not in the
    header, a column named twice, or (while reading) a row with a different number of fields
    than the header.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        sep: str = ",",
        exclude: Iterable[str] = (),
        encoding: str = "utf-8-sig",
    ):
        self.path = Path(path)
        self.sep = sep
        self.encoding = encoding
        if not self.path.is_file():
            raise TableError(f"There is no file at {self.path}. Check the path.")
        self.excluded = list(dict.fromkeys(exclude))
        with self.path.open(newline="", encoding=encoding) as handle:
            header = next(csv.reader(handle, delimiter=sep), None)
        if not header or not any(name.strip() for name in header):
            raise TableError(f"{self.path} is empty: its first line must name the columns.")
        self.header = [name.strip() for name in header]
        unknown = [name for name in self.excluded if name not in self.header]
        if unknown:
            raise TableError(
                f"Cannot exclude {', '.join(map(repr, unknown))}: not a column of {self.path} "
                f"(columns: {', '.join(self.header)}). Is the separator right (--sep)?"
            )
        if len(set(self.header)) != len(self.header):
            twice = sorted(name for name, n in Counter(self.header).items() if n > 1)
            raise TableError(f"{self.path} names these columns more than once: {', '.join(twice)}.")
        self._kept = [i for i, name in enumerate(self.header) if name not in self.excluded]
        self.columns = [self.header[i] for i in self._kept]

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, values of the kept columns, stripped) for each non-blank line."""
        with self.path.open(newline="", encoding=self.encoding) as handle:
            reader = csv.reader(handle, delimiter=self.sep)
            next(reader, None)
            width = len(self.header)
            for fields in reader:
                if not fields:
                    continue
                if len(fields) != width:
                    raise TableError(
                        f"Line {reader.line_num} of {self.path} has {len(fields)} fields, the "
                        f"header has {width}. Is the separator right (--sep)?"
                    )
                yield reader.line_num, [fields[i].strip() for i in self._kept]


def table_read_csv(
    path: str | Path, *, sep: str = ",", exclude: Iterable[str] = (), encoding: str = "utf-8-sig"
) -> Table:
    """Read a CSV file into a :class:`Table`; see :class:`CsvFile` for what is never read."""
    source = CsvFile(path, sep=sep, exclude=exclude, encoding=encoding)
    columns: list[list[str]] = [[] for _ in source.columns]
    for _, values in source.rows():
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    return Table(dict(zip(source.columns, columns, strict=True)))


def is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING_TOKENS


def _as_number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclasses.dataclass(frozen=True)
class ColumnKinds:
    """Which columns are features, and of which kind; which were left out and why."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    ignored: dict[str, str]

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


def column_kinds(table: Table) -> ColumnKinds:
    """Decide each column's kind from its values alone (never from the outcome).

    Numeric: every known value parses as a finite number. Categorical: the rest, unless it
    looks like an identifier (more distinct values than half its rows) or is constant; those
    two are ignored, with the reason.
    """
    numeric: list[str] = []
    categorical: list[str] = []
    ignored: dict[str, str] = {}
    rows = len(table)
    for name, values in table.columns.items():
        known = [value for value in values if not is_missing(value)]
        distinct = set(known)
        if not known:
            ignored[name] = "no known values"
        elif len(distinct) == 1 and len(known) == rows:
            ignored[name] = "one value in every row"
        elif all(_as_number(value) is not None for value in distinct):
            numeric.append(name)
        elif len(distinct) > max(IDENTIFIER_MIN_DISTINCT, IDENTIFIER_SHARE * rows):
            ignored[name] = f"looks like an identifier ({len(distinct)} distinct values)"
        else:
            categorical.append(name)
    return ColumnKinds(numeric=tuple(numeric), categorical=tuple(categorical), ignored=ignored)


def numeric_values(values: Sequence[str]) -> np.ndarray:
    """Floats of a numeric column; missing (or, at prediction time, unparseable) values are NaN."""
    out = np.empty(len(values), dtype=float)
    for i, value in enumerate(values):
        number = None if is_missing(value) else _as_number(value)
        out[i] = np.nan if number is None else number
    return out


def category_values(values: Sequence[str]) -> list[str]:
    """A categorical column's values, with every way of saying "not known" made one category."""
    return [MISSING if is_missing(value) else value.strip() for value in values]
