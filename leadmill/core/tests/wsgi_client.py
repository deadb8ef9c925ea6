"""Call ``leadmill.wsgi.application`` as the production server does: the lean paths
(leadmill.core.wsgi) are in front of Django there, and the test client does not see them."""

from __future__ import annotations

import io
import json
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


def wsgi_call(
    path: str,
    body: bytes = b"",
    *,
    method: str = "POST",
    content_type: str = "application/json",
    origin: str = "http://testserver",
    **headers: str,
) -> tuple[str, dict[str, str], bytes]:
    """(status line, headers, body) of one request through the WSGI application (``headers``:
    environ keys, which replace the defaults)."""
    from leadmill.wsgi import application

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "HTTP_ORIGIN": origin,
        "HTTP_USER_AGENT": BROWSER,
        "HTTP_ACCEPT_LANGUAGE": "pt-BR",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        **headers,
    }
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started.update(status=status, headers=dict(response_headers))

    with signals_spare_the_test_transaction():
        result = application(environ, start_response)
        content = b"".join(result)
        if hasattr(result, "close"):  # a WSGI server calls it when there is one
            result.close()
    return started["status"], started["headers"], content


def spy(method, calls: list):
    """``method`` of a WSGI handler, noting each path it serves in ``calls``."""

    def spied(self, environ, start_response, **kwargs):
        calls.append(environ["PATH_INFO"])
        return method(self, environ, start_response, **kwargs)

    return spied


class WsgiResponse:
    """The parts of a Django test response the tests read, from a WSGI answer."""

    def __init__(self, status: str, headers: dict[str, str], content: bytes) -> None:
        self.status_code = int(status.split()[0])
        self.headers = headers
        self.content = content

    def __getitem__(self, name: str) -> str:
        return self.headers[name]

    def has_header(self, name: str) -> bool:
        return name in self.headers

    def json(self):
        return json.loads(self.content)


class WsgiClient:
    """Django's test client, with its POSTs to ``paths`` sent through
    ``leadmill.wsgi.application`` as the production server sends them (the lean paths
    in front of Django), so one test covers both ways in."""

    def __init__(self, client, paths: tuple[str, ...]) -> None:
        self._client = client
        self._paths = paths

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def post(self, path: str, data=b"", content_type: str = "application/json", **extra: str):
        if path not in self._paths:
            return self._client.post(path, data=data, content_type=content_type, **extra)
        body = data.encode() if isinstance(data, str) else data
        if cookies := "; ".join(
            f"{morsel.key}={morsel.value}" for morsel in self._client.cookies.values()
        ):
            extra.setdefault("HTTP_COOKIE", cookies)
        origin = extra.pop("HTTP_ORIGIN", "")
        status, headers, content = wsgi_call(
            path, body, content_type=content_type, origin=origin, HTTP_ACCEPT_LANGUAGE="en", **extra
        )
        return WsgiResponse(status, headers, content)
