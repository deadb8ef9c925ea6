"""The tracking batch's hand-written INSERT (services._ingest_sql) follows the Event model."""

import pytest
from django.db import connection

from leadmill.core.tests.insert_columns import insert_columns_missing

from ..models import Event
from ..services import _ingest_sql

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rows", [1, 20])
def test_the_event_insert_writes_every_column_the_model_needs(rows):
    assert insert_columns_missing(_ingest_sql(connection.vendor, rows), Event) == set()
