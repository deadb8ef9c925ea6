"""``POST /t/collect`` served ahead of Django's full handler (leadmill.wsgi.application)."""

import io
import json
from contextlib import contextmanager

import pytest
from django.core import signals
from django.db import OperationalError, close_old_connections

from ..models import Event
from ..wsgi import CollectHandler

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
VID = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"


@contextmanager
def signals_spare_the_test_transaction():
    """As Django's test client does: the request signals must not close the connection
    that holds the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def call(path, body=b"", *, method="POST", origin="http://testserver"):
    from leadmill.wsgi import application

    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "testserver",
        "HTTP_ORIGIN": origin, "HTTP_USER_AGENT": BROWSER, "HTTP_ACCEPT_LANGUAGE": "pt-BR", "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.version": (1, 0),
    }
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=dict(headers))

    with signals_spare_the_test_transaction():
        result = application(environ, start_response)
        content = b"".join(result)
        result.close()
    return started["status"], started["headers"], content


def test_a_batch_posted_to_the_wsgi_application_is_stored_by_the_lean_handler(monkeypatch):
    handled = []
    monkeypatch.setattr(CollectHandler, "__call__", _spy(CollectHandler.__call__, handled))
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
    monkeypatch.setattr(CollectHandler, "__call__", _spy(CollectHandler.__call__, handled))

    status, headers, content = call("/t/lm.js", method="GET")

    assert status == "200 OK"
    assert b"lm_vid" in content
    assert handled == []


def _spy(method, calls):
    def spy(self, environ, start_response):
        calls.append(environ["PATH_INFO"])
        return method(self, environ, start_response)

    return spy
