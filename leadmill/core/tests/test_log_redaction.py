"""No secret token in the logs (leadmill.core.log_redaction): what the configured handler writes."""

import io
import logging
import os
import time
from contextlib import contextmanager

import pytest
from django.core.files.base import ContentFile

from leadmill.capture import tokens as capture_tokens
from leadmill.capture.models import Offer, Submission
from leadmill.capture.services import submissions_process
from leadmill.capture.tests.factories import OfferFactory, form_with_fields
from leadmill.core.log_redaction import redact
from leadmill.messaging import tokens as nurture_tokens

pytestmark = pytest.mark.django_db


@contextmanager
def console_output():
    """What settings.LOGGING's console handler writes, with its filters and formatter."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def test_a_500_on_a_download_link_logs_the_path_without_its_token(client):
    # given a valid download link whose file became a folder on the disk (a storage fault the
    # view does not expect; a missing file is a 404): the view fails with a 500
    offer = OfferFactory(kind=Offer.Kind.DOWNLOAD)
    offer.file.save("guide.pdf", ContentFile(b"%PDF-1.4 test"))
    form = form_with_fields(offer=offer)
    render_token = capture_tokens.render_token_make(form_id=form.pk, at=time.time() - 10)
    client.post(
        f"/f/{form.slug}/", data={"_rt": render_token, "website": "", "email": "ana@example.com"}
    )
    submissions_process()
    submission = Submission.objects.get()
    token = capture_tokens.download_token_make(submission_id=submission.pk, offer_id=offer.pk)
    path = offer.file.path
    offer.file.storage.delete(offer.file.name)
    os.mkdir(path)
    client.raise_request_exception = False

    # when it is requested
    with console_output() as output:
        response = client.get(f"/d/{token}/")

    # then the error is logged with the path and the traceback, and the token is nowhere
    assert response.status_code == 500
    written = output.getvalue()
    assert "ERROR django.request Internal Server Error: /d/[redacted]/" in written
    assert "IsADirectoryError" in written
    assert token not in written
    assert token.split(":")[0] not in written  # not even the signed value's first part


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/e/o/{open}.gif", "/e/o/[redacted].gif"),
        ("/e/c/{click}", "/e/c/[redacted]"),
        ("/e/u/{unsubscribe}", "/e/u/[redacted]"),
        ("/e/p/{unsubscribe}", "/e/p/[redacted]"),
        ("/f/confirm/{opt_in}/", "/f/confirm/[redacted]/"),
        ("/f/ebook/thanks/?s={thanks}&x=1", "/f/ebook/thanks/?s=[redacted]&x=1"),
    ],
)
def test_every_signed_link_is_logged_without_its_token(path, expected):
    # given the path of a signed link, with a real token in it
    secrets = {
        "open": nurture_tokens.open_token(7),
        "click": nurture_tokens.click_token(7, "https://example.com/a"),
        "unsubscribe": nurture_tokens.unsubscribe_token(7),
        "opt_in": "eyJjIjo3fQ:1vRsVT:abcDEF_12-3",
        "thanks": capture_tokens.thanks_token_make(submission_id=7),
    }
    logged_path = path.format(**secrets)
    logger = logging.getLogger("leadmill.anything")

    # when any logger names it, in its message and in its arguments
    with console_output() as output:
        logger.error("database unavailable on GET %s", logged_path)
        logger.warning(f"seen {logged_path}")

    # then the handler writes the path with the token replaced, twice
    assert output.getvalue().count(expected) == 2
    assert not any(secret in output.getvalue() for secret in secrets.values())


def test_text_without_a_signed_link_is_left_as_it_is():
    assert (
        redact("GET /f/ebook/ 201 /d/ /static/capture/landing.css")
        == "GET /f/ebook/ 201 /d/ /static/capture/landing.css"
    )
