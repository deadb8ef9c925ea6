"""Static files and uploaded media are served by the production WSGI application
(leadmill.core.wsgi.static_files_route), with the site's security headers."""

from pathlib import Path

import pytest
from django.conf import settings

from leadmill import cli
from leadmill.core.tests.wsgi_client import wsgi_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def files():
    """A stylesheet among the collected static files and an image among the uploads."""
    written = []

    def write(root: str, name: str, content: bytes) -> None:
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)

    write(settings.STATIC_ROOT, "capture/test-only.css", b"body { color: #123; }")
    write(settings.MEDIA_ROOT, "images/test-only.png", b"\x89PNG\r\n\x1a\n")
    yield
    for path in written:
        path.unlink()


def get(path: str, **headers):
    return wsgi_call(path, method="GET", content_type="", origin="", **headers)


def test_a_static_file_is_served_with_nosniff_its_type_and_a_cache_lifetime(files):
    status, headers, content = get("/static/capture/test-only.css")

    assert status == "200 OK"
    assert content == b"body { color: #123; }"
    assert headers["Content-Type"] == "text/css"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["Cache-Control"] == "public, max-age=86400"


def test_an_uploaded_image_is_served_with_nosniff(files):
    status, headers, content = get("/media/images/test-only.png")

    assert status == "200 OK"
    assert content == b"\x89PNG\r\n\x1a\n"
    assert headers["Content-Type"] == "image/png"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "public, max-age=604800"


def test_an_unchanged_file_is_answered_304(files):
    _status, first, _content = get("/static/capture/test-only.css")

    status, headers, content = get(
        "/static/capture/test-only.css", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]
    )

    assert status == "304 Not Modified"
    assert content == b""


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/static/capture/missing.css", "404 Not Found"),
        ("/static/../media/images/test-only.png", "400 Bad Request"),  # outside the directory
        ("/static/%2e%2e/media/images/test-only.png", "404 Not Found"),  # a file named "%2e%2e"
    ],
)
def test_a_missing_file_or_a_path_outside_the_directory_is_refused(files, path, expected):
    status, headers, content = get(path)

    assert status == expected
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert b"PNG" not in content


def test_granian_no_longer_serves_files_itself():
    command = cli.web_command()

    assert "--static-path-mount" not in command
