"""The form post's hand-written INSERT (services._insert_sql) follows the Submission model."""

import dataclasses

import pytest
from django.db import connection, models

from leadmill.core.tests.insert_columns import insert_columns, insert_columns_missing

from ..models import Submission
from ..services import _insert_sql

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("limited", "per_token"), [(False, False), (True, False), (True, True)])
def test_the_submission_insert_writes_every_column_the_model_needs(limited, per_token):
    sql = _insert_sql(connection.vendor, limited=limited, per_token=per_token)

    assert insert_columns_missing(sql, Submission) == set()


def test_a_new_column_without_a_database_default_fails_the_check():
    # Given a model with one more NOT NULL column than the insert writes (Submission's own fields)
    @dataclasses.dataclass
    class Meta:  # the parts of _meta the check reads
        db_table: str
        concrete_fields: list

    added = models.CharField(max_length=10, default="web")
    added.column = "added_column"
    shape = type(
        "Shape",
        (),
        {"_meta": Meta(Submission._meta.db_table, [*Submission._meta.concrete_fields, added])},
    )

    # Then the check names it
    assert insert_columns_missing(_insert_sql(connection.vendor, limited=False), shape) == {
        "added_column"
    }
    assert "added_column" not in insert_columns(_insert_sql(connection.vendor, limited=False))[1]


def test_the_insert_counts_a_render_tokens_posts_on_its_index_not_by_a_scan():
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's planner scans a small table whatever the index")
    sql = _insert_sql(connection.vendor, limited=True, per_token=True)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", [None] * sql.count("%s"))
        plan = " | ".join(row[-1] for row in cursor.fetchall())

    assert "USING COVERING INDEX submission_token_idx" in plan
    assert "SCAN capture_submission" not in plan
