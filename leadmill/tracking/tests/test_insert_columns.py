"""The tracking batch's hand-written INSERTs (services._ingest_sql, the visitor upserts)
follow the Event and Visitor models."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadmill.core.tests.insert_columns import insert_columns_missing, inserts_into

from ..models import Event, Visitor
from ..services import _bot_visitors_upsert, _ingest_sql, _visitors_upsert_from_events

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rows", [1, 20])
def test_the_event_insert_writes_every_column_the_model_needs(rows):
    assert insert_columns_missing(_ingest_sql(connection.vendor, rows), Event) == set()


def test_the_visitor_upserts_write_every_column_the_model_needs():
    seen = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

    with CaptureQueriesContext(connection) as queries:
        _bot_visitors_upsert({"v-bot": (seen, seen)})
        _visitors_upsert_from_events(0, 0)

    statements = inserts_into(queries.captured_queries, Visitor)
    assert len(statements) == 2
    assert [insert_columns_missing(sql, Visitor) for sql in statements] == [set(), set()]
