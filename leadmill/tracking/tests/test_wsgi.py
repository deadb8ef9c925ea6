"""``POST /t/collect`` served ahead of Django's full handler (leadmill.wsgi.application)."""

import json

import pytest
from django.core import signals
from django.db import OperationalError

from leadmill.core.tests.wsgi_client import spy, wsgi_call

from ..models import Event
from ..wsgi import CollectHandler

pytestmark = pytest.mark.django_db

VID = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"


def call(path, body=b"", *, method="POST", origin="http://testserver"):
    return wsgi_call(path, body, method=method, origin=origin)


def test_a_batch_posted_to_the_wsgi_application_is_stored_by_the_lean_handler(monkeypatch):
    handled = []
    monkeypatch.setattr(CollectHandler, "__call__", spy(CollectHandler.__call__, handled))
    body = json.dumps([{"type": "page_view", "url": "http://testserver/offer", "visitor_id": VID}]).encode()

    status, headers, content = call("/t/collect", body)

    assert status == "204 No Content"
    assert handled == ["/t/collect"]
    assert Event.objects.get().visitor_id == VID
    assert headers["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still runs
    assert headers["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_errors_keep_their_status_and_the_visitors_language():
    status, headers, content = call("/t/collect", b"{not json")

    assert status == "400 Bad Request"
    assert json.loads(content)["code"] == "malformed"
    assert headers["Content-Language"] == "pt-br"
    assert not Event.objects.exists()


def test_an_unreachable_database_answers_503_not_500(monkeypatch):
    from .. import services

    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "events_ingest", down)
    body = json.dumps([{"type": "page_view", "url": "http://testserver/offer"}]).encode()

    status, headers, content = call("/t/collect", body)

    assert status == "503 Service Unavailable"
    assert json.loads(content)["code"] == "unavailable"


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

