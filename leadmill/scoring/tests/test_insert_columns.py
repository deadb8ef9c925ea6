"""The set-based recompute's hand-written INSERTs (recompute.scores_upsert, and on SQLite
recompute._scores_write_by_column) follow the ContactScore model."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.tests.insert_columns import insert_columns_missing, inserts_into

from ..models import ContactScore, FitRule
from ..recompute import scores_recompute_all, scores_upsert

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def test_the_score_upsert_writes_every_column_the_model_needs():
    contact = ContactFactory(role="CEO")
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=10)

    with CaptureQueriesContext(connection) as queries:
        written = scores_upsert(at=AT, contact_ids=[contact.pk])

    (statement,) = inserts_into(queries.captured_queries, ContactScore)
    assert insert_columns_missing(statement, ContactScore) == set()
    assert written == 1


def test_the_full_recompute_writes_every_column_the_model_needs():
    ContactFactory(role="CEO")
    FitRule.objects.create(field="role", operator="equals", value="ceo", points=10)

    with CaptureQueriesContext(connection) as queries:
        written = scores_recompute_all(at=AT)

    statements = inserts_into(queries.captured_queries, ContactScore)
    assert len(statements) == 1  # SQLite: the new leads' insert; PostgreSQL: the upsert
    assert insert_columns_missing(statements[0], ContactScore) == set()
    assert written == 1
