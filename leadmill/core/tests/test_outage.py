"""A database or shared store that cannot be reached, or a write stuck on a lock: every
public path answers 503 with Retry-After (never 500, never a hang), through the production
WSGI application (the lean fast paths in front of Django)."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse

import psycopg
import pytest
from django.db import connection

from leadmill.capture import tokens as capture_tokens
from leadmill.messaging import tokens as email_tokens
from leadmill.tracking.models import Event

from .wsgi_client import wsgi_call

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_PORT = 8139  # of this engineer's range; nothing listens on it
BATCH = json.dumps([{"type": "page_view", "url": "http://testserver/offer"}]).encode()


@contextlib.contextmanager
def database_unreachable():
    """The default connection points at a server that is not there (PostgreSQL: a closed
    port on loopback; SQLite: a file in a directory that does not exist)."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(CLOSED_PORT))
    else:
        connection.settings_dict["NAME"] = "/nonexistent-leadmill-dir/leadmill.sqlite3"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def public_requests() -> list[tuple[str, str, dict]]:
    """(method, path, wsgi_call keyword arguments) of every public path that records what
    it is asked: each answers 503 when it cannot."""
    return [
        ("POST", "/t/collect", {"body": BATCH}),
        ("GET", "/t/p.gif", {"QUERY_STRING": "u=http%3A%2F%2Ftestserver%2Foffer"}),
        ("POST", "/f/ebook/", {"body": json.dumps({"email": "ana@example.com"}).encode()}),
        ("GET", f"/e/o/{email_tokens.open_token(1)}.gif", {}),
        ("GET", f"/e/u/{email_tokens.unsubscribe_token(1)}", {}),
        (
            "POST",
            f"/e/u/{email_tokens.unsubscribe_token(1)}",
            {
                "body": b"List-Unsubscribe=One-Click",
                "content_type": "application/x-www-form-urlencoded",
            },
        ),
        ("GET", f"/d/{capture_tokens.download_token_make(submission_id=1, offer_id=1)}/", {}),
        ("GET", "/c/spring-offer/", {}),
        (
            "GET",
            f"/f/confirm/{capture_tokens.opt_in_token_make(contact_id=1, consent_ids=[1])}/",
            {},
        ),
    ]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    public_requests(),
    ids=[
        f"{method} {path.split('/')[1]}/{path.split('/')[2][:8]}"
        for method, path, _ in public_requests()
    ],
)
def test_every_public_path_answers_503_with_retry_after_when_the_database_is_unreachable(
    method, path, kwargs
):
    # Given a database that cannot be reached
    with database_unreachable():
        # When the path is requested
        status, headers, _content = wsgi_call(path, method=method, **kwargs)

    # Then the answer says to come back, and nothing broke for good
    assert status == "503 Service Unavailable"
    assert headers["Retry-After"] == "30"
    assert wsgi_call("/t/collect", BATCH)[0] == "204 No Content"


def test_an_email_link_still_takes_the_person_where_it_points_when_the_database_is_unreachable():
    # Given a database that cannot be reached
    url = "https://example.com/pricing"
    with database_unreachable():
        # When a person clicks a link in an email
        status, headers, _content = wsgi_call(
            f"/e/c/{email_tokens.click_token(1, url)}",
            method="GET",
            QUERY_STRING=urllib.parse.urlencode({"u": url}),
        )

    # Then they still get there (the click is not counted: the person's way comes first)
    assert status == "302 Found"
    assert headers["Location"] == url


def test_collect_answers_503_when_the_shared_rate_limit_store_is_unreachable(settings):
    # Given Redis configured as the shared store, and not answering
    settings.REDIS_URL = f"redis://127.0.0.1:{CLOSED_PORT}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
        }
    }

    # When a batch is posted
    status, headers, content = wsgi_call("/t/collect", BATCH)

    # Then it is refused for now, and not stored
    assert status == "503 Service Unavailable"
    assert headers["Retry-After"] == "30"
    assert json.loads(content)["code"] == "unavailable"
    assert not Event.objects.exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_write_stuck_on_a_lock_answers_503_in_bounded_time_and_frees_the_queue(settings):
    # Given another session holding a lock that blocks every insert into the event table
    settings.LEADMILL_INGEST_TIMEOUT_MS = 500
    params = connection.get_connection_params()
    blocker = psycopg.connect(
        **{key: value for key, value in params.items() if key != "cursor_factory"}
    )
    blocker.execute("LOCK TABLE tracking_event IN EXCLUSIVE MODE")
    answers: list[str] = []
    try:
        # When four batches are posted at once from four threads
        def post():
            try:
                answers.append(wsgi_call("/t/collect", BATCH)[0])
            finally:
                connection.close()

        threads = [threading.Thread(target=post) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        stuck = [thread for thread in threads if thread.is_alive()]
    finally:
        blocker.rollback()
        blocker.close()

    # Then each got 503 rather than waiting for the lock
    assert stuck == []
    assert answers == ["503 Service Unavailable"] * 4
    # and once the lock is gone, the next batch is stored at once
    assert wsgi_call("/t/collect", BATCH)[0] == "204 No Content"
    assert Event.objects.count() == 1
