"""Call ``leadmill.wsgi.application`` as the production server does: the lean paths
(leadmill.core.wsgi) are in front of Django there, and the test client does not see them."""

from __future__ import annotations

import io
from contextlib import contextmanager

from django.core import signals
from django.db import close_old_connections

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"


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


def wsgi_call(path: str, body: bytes = b"", *, method: str = "POST", content_type: str = "application/json",
              origin: str = "http://testserver", **headers: str) -> tuple[str, dict[str, str], bytes]:
    """(status line, headers, body) of one request through the WSGI application."""
    from leadmill.wsgi import application

    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)), "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "testserver",
        "HTTP_ORIGIN": origin, "HTTP_USER_AGENT": BROWSER, "HTTP_ACCEPT_LANGUAGE": "pt-BR", "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.version": (1, 0), **headers,
    }
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started.update(status=status, headers=dict(response_headers))

    with signals_spare_the_test_transaction():
        result = application(environ, start_response)
        content = b"".join(result)
        result.close()
    return started["status"], started["headers"], content


def spy(method, calls: list):
    """``method`` of a WSGI handler, noting each path it serves in ``calls``."""

    def spied(self, environ, start_response, **kwargs):
        calls.append(environ["PATH_INFO"])
        return method(self, environ, start_response, **kwargs)

    return spied
