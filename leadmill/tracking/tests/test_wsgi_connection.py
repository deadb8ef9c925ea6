"""The collect fast path's care of its database connection (tracking/wsgi.py): the one place
that sets Django's internal ``health_check_done``. These tests pin the behaviour of Django's
it relies on, so a Django upgrade that changes it fails here, not in production."""

import time

import pytest
from django.db import connections

from .. import wsgi

pytestmark = pytest.mark.django_db(transaction=True)  # outside a test transaction, as a server runs


@pytest.fixture
def connection():
    connection = connections["default"]
    if not connection.settings_dict.get("CONN_HEALTH_CHECKS"):
        pytest.skip("health checks are on with DATABASE_URL (PostgreSQL) only")
    connection.ensure_connection()
    return connection


def test_djangos_request_care_asks_for_a_health_check_on_the_next_query(connection):
    # Why the fast path sets the flag: Django's per-request care clears it, so every batch
    # would run a SELECT 1 before its one INSERT.
    connection.health_check_done = True

    connection.close_if_unusable_or_obsolete()

    assert connection.connection is not None
    assert connection.health_check_done is False


def test_a_connection_used_a_moment_ago_skips_the_check_and_an_idle_one_gets_it(connection):
    # Given a batch that just ended well on this thread
    wsgi._connection_after(ok=True)

    # When the next batch begins at once, then Django's check is taken as done
    wsgi._connection_before()
    assert connection.health_check_done is True

    # ... but after a pause (or an error) the check runs as usual
    wsgi._thread.used_at = time.monotonic() - wsgi.RECENTLY_USED_S - 1
    wsgi._connection_before()
    assert connection.health_check_done is False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert connection.health_check_done is True


def test_after_an_error_the_next_batch_is_checked(connection):
    wsgi._connection_after(ok=False)

    wsgi._connection_before()

    assert connection.health_check_done is False
