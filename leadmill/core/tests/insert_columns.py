"""For tests of a hand-written INSERT: the model's columns it must write and does not.

A hand-written INSERT (the form post's, the tracking batch's) leaves the ORM out, so a
column added to the model is silently left out of it: a NOT NULL column without a database
default then breaks every insert in production, and a column with a Python default gets
NULL or the database's value instead. :func:`insert_columns_missing` names them.

A statement built and run inside a service is caught as it runs:
:func:`inserts_into` picks the INSERTs into a model's table from the queries a
``CaptureQueriesContext`` recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from django.db import models
from django.db.models.fields import NOT_PROVIDED

_INSERT = re.compile(r'INSERT\s+INTO\s+"?(?P<table>\w+)"?\s*\((?P<columns>[^)]*)\)', re.IGNORECASE)


def insert_columns(sql: str) -> tuple[str, list[str]]:
    """The table and the columns an ``INSERT INTO table (columns) …`` statement writes."""
    match = _INSERT.search(sql)
    assert match, f"not an INSERT with a column list: {sql[:200]}"
    return match["table"], [column.strip().strip('"') for column in match["columns"].split(",")]


def insert_columns_missing(sql: str, model: type[models.Model]) -> set[str]:
    """The columns of ``model`` the INSERT ``sql`` must write and does not: every concrete
    column but an auto-increment key, one with a database default (``db_default``), and a
    nullable one without a default (NULL is what the ORM would write)."""
    table, written = insert_columns(sql)
    assert table == model._meta.db_table, (table, model._meta.db_table)
    needed = set()
    for field in model._meta.concrete_fields:
        if isinstance(field, models.AutoField) or field.db_default is not NOT_PROVIDED:
            continue
        if field.null and not field.has_default():
            continue
        needed.add(field.column)
    return needed - set(written)


def inserts_into(captured: Iterable[Mapping[str, str]], model: type[models.Model]) -> list[str]:
    """The ``INSERT INTO table (columns)`` statements into ``model``'s table among captured
    queries (``CaptureQueriesContext.captured_queries``), in the order they ran."""
    statements = []
    for query in captured:
        match = _INSERT.search(query["sql"])
        if match and match["table"] == model._meta.db_table:
            statements.append(query["sql"])
    return statements
