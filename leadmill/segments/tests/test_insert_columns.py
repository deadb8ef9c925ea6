"""The segment entries' hand-written INSERT (services._entries_sync) follows the
SegmentEntry model."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.tests.insert_columns import insert_columns_missing, inserts_into

from ..models import SegmentEntry
from ..services import segment_entries_detect
from .factories import SegmentFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("for_some", [False, True])
def test_the_entries_insert_writes_every_column_the_model_needs(for_some):
    member = ContactFactory(country="BR")
    segment = SegmentFactory(conditions=[{"field": "country", "op": "equals", "value": "BR"}])

    with CaptureQueriesContext(connection) as queries:
        entered = segment_entries_detect(
            segment=segment, contact_ids=[member.pk] if for_some else None, now=NOW
        )

    (statement,) = inserts_into(queries.captured_queries, SegmentEntry)
    assert insert_columns_missing(statement, SegmentEntry) == set()
    assert entered == [member.pk]
