"""``POST /t/collect`` served ahead of Django's full handler (leadmill.wsgi.application)."""

import json

import pytest
from django.core import signals
from django.db import OperationalError

from leadmill.core.tests.wsgi_client import spy, wsgi_call

from ..models import Event
from ..wsgi import CollectHandler
from .factories import SiteFactory

pytestmark = pytest.mark.django_db

VID = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"


def call(path, body=b"", *, method="POST", origin="http://testserver", **headers):
    return wsgi_call(path, body, method=method, origin=origin, **headers)


def test_a_well_formed_batch_is_stored_by_the_fast_path_with_the_views_headers(monkeypatch):
    handled = []
    monkeypatch.setattr(CollectHandler, "__call__", spy(CollectHandler.__call__, handled))
    body = json.dumps(
        [{"type": "page_view", "url": "http://testserver/offer", "visitor_id": VID}]
    ).encode()

    status, headers, content = call("/t/collect", body)

    assert status == "204 No Content"
    assert handled == []  # the view never ran
    assert Event.objects.get().visitor_id == VID
    assert headers["X-Content-Type-Options"] == "nosniff"  # as SecurityMiddleware sets it
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert headers["Access-Control-Allow-Origin"] == "http://testserver"
    assert content == b""


def test_a_listed_site_gets_its_cors_headers_from_the_fast_path():
    SiteFactory(origin="https://www.example.com")
    body = json.dumps([{"type": "page_view", "url": "https://www.example.com/p"}]).encode()

    status, headers, _content = call("/t/collect", body, origin="https://www.example.com")

    assert status == "204 No Content"
    assert (headers["Access-Control-Allow-Origin"], headers["Vary"]) == (
        "https://www.example.com",
        "Origin",
    )
    assert Event.objects.get().url == "https://www.example.com/p"


def test_a_valid_batch_only_the_full_parser_takes_is_stored_by_the_fast_path_too(monkeypatch):
    # Given a batch the quick decoder leaves to the full parser (nulls where it wants text)
    handled = []
    monkeypatch.setattr(CollectHandler, "__call__", spy(CollectHandler.__call__, handled))
    body = json.dumps(
        [{"type": "page_view", "url": "http://testserver/offer", "name": None, "properties": None}]
    ).encode()

    # When it is posted
    status, _headers, _content = call("/t/collect", body)

    # Then the one admission (views.collect_admit) takes it on the fast path: the view never runs
    assert status == "204 No Content"
    assert handled == []
    assert (Event.objects.get().name, Event.objects.get().properties) == ("", {})


def test_a_batch_the_admission_refuses_is_answered_by_the_view(monkeypatch):
    handled = []
    monkeypatch.setattr(CollectHandler, "__call__", spy(CollectHandler.__call__, handled))
    body = json.dumps([{"type": "page_view", "url": "https://elsewhere.example/p"}]).encode()

    status, _headers, content = call("/t/collect", body, origin="https://elsewhere.example")

    assert (status, json.loads(content)["code"]) == ("403 Forbidden", "origin_not_allowed")
    assert handled == ["/t/collect"]
    assert not Event.objects.exists()


def test_a_host_django_refuses_is_refused_and_nothing_is_stored():
    body = json.dumps([{"type": "page_view", "url": "http://evil.example/offer"}]).encode()

    status, _headers, _content = call(
        "/t/collect", body, origin="http://evil.example", HTTP_HOST="evil.example"
    )

    assert status == "400 Bad Request"
    assert not Event.objects.exists()


def test_a_send_beacon_batch_in_text_plain_takes_the_fast_path(monkeypatch):
    handled = []
    monkeypatch.setattr(CollectHandler, "__call__", spy(CollectHandler.__call__, handled))
    body = json.dumps(
        [{"type": "page_view", "url": "http://testserver/offer", "visitor_id": VID}]
    ).encode()

    status, _headers, _content = call("/t/collect", body, CONTENT_TYPE="text/plain;charset=UTF-8")

    assert status == "204 No Content"
    assert handled == []  # sendBeacon's text/plain takes the fast path too
    assert Event.objects.get().visitor_id == VID


def test_errors_keep_their_status_and_the_visitors_language():
    status, headers, content = call("/t/collect", b"{not json")

    assert status == "400 Bad Request"
    assert json.loads(content)["code"] == "malformed"
    assert headers["Content-Language"] == "pt-br"
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            OperationalError("connection refused"),
            "503 Service Unavailable",
        ),  # the database cannot be reached
        (RuntimeError("a bug"), "500 Internal Server Error"),  # answered as Django answers it
    ],
)
def test_an_error_while_storing_gets_the_views_answer(monkeypatch, error, expected):
    from .. import services

    def failing(**kwargs):
        raise error

    monkeypatch.setattr(services, "events_ingest", failing)
    body = json.dumps([{"type": "page_view", "url": "http://testserver/offer"}]).encode()

    status, _headers, content = call("/t/collect", body)

    assert status == expected
    if expected.startswith("503"):
        assert json.loads(content)["code"] == "unavailable"
    assert not Event.objects.exists()


def test_the_request_signals_fire_so_connections_are_reused_and_closed_as_usual():
    fired = []

    def started(**kwargs):
        fired.append("started")

    def finished(**kwargs):
        fired.append("finished")

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        call("/t/collect", b"[]")
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)

    assert fired == ["started", "finished"]


def test_other_paths_go_through_django(monkeypatch):
    handled = []
    monkeypatch.setattr(CollectHandler, "__call__", spy(CollectHandler.__call__, handled))

    status, headers, content = call("/t/lm.js", method="GET")

    assert status == "200 OK"
    assert b"lm_vid" in content
    assert handled == []
