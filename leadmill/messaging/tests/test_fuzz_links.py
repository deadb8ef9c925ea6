"""Property-based: the public links of email and capture never answer 5xx (issue 12, item 12).

The open pixel, the click redirect, the one-click unsubscribe (GET and the RFC 8058 POST),
the preference centre, the offer download ``/d/<token>/``, the CTA ``/c/<slug>/`` and the
double opt-in link, driven through the production WSGI application with generated tokens
(valid, altered, forged, expired, signed for deleted rows or for ids past 64 bits, random
bytes), paths, query strings, headers and bodies in hostile encodings: every answer is 2xx,
3xx or 4xx. Bounded and deterministic (a fixed number of derandomized examples).
"""

from __future__ import annotations

import time
from urllib.parse import quote_from_bytes

import pytest
from django.core import signing
from django.core.files.base import ContentFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadmill.capture import tokens as capture_tokens
from leadmill.capture.models import CallToAction, Offer, Submission
from leadmill.capture.tests.factories import FormFactory, OfferFactory
from leadmill.consent.models import Consent
from leadmill.consent.services import purpose_ensure
from leadmill.contacts.tests.factories import ContactFactory
from leadmill.core.tests.wsgi_client import wsgi_call

from .. import tokens
from .factories import MessageFactory

pytestmark = pytest.mark.django_db

TOO_BIG = 2**70
CLICK_URL = "https://example.com/guide?x=1"


class _SignedLongAgo(signing.TimestampSigner):
    """Signs as if a year ago: an expired download or confirmation link."""

    def timestamp(self):
        return signing.b62_encode(int(time.time()) - 365 * 86_400)


def _expired(obj, *, salt: str, compress: bool = False) -> str:
    return _SignedLongAgo(salt=salt).sign_object(obj, compress=compress)


@pytest.fixture
def links():
    """Tokens and slugs for rows that exist, rows that are gone, and ids no row can have."""
    contact = ContactFactory(email="ana@example.com")
    message = MessageFactory(contact=contact)
    gone = MessageFactory(contact=ContactFactory(email="gone@example.com"))
    gone_pk = gone.pk
    gone.delete()

    offer = OfferFactory(kind=Offer.Kind.DOWNLOAD)
    offer.file.save("guide.pdf", ContentFile(b"%PDF-1.4 fuzz"))
    lost = OfferFactory(kind=Offer.Kind.DOWNLOAD)
    lost.file.save("lost.pdf", ContentFile(b"%PDF-1.4 lost"))
    lost.file.storage.delete(lost.file.name)  # the row still names a file that is gone
    form = FormFactory(offer=offer)
    lost_form = FormFactory(offer=lost)
    submission = Submission.objects.create(
        form=form, status=Submission.Status.ACCEPTED, data={}, contact=contact
    )
    lost_submission = Submission.objects.create(
        form=lost_form, status=Submission.Status.ACCEPTED, data={}
    )

    purpose = purpose_ensure(
        key="email-marketing", name="Marketing email", text="Yes.", is_email_marketing=True
    )
    awaiting = Consent.objects.create(
        contact=contact,
        purpose=purpose,
        granted=True,
        method=Consent.Method.FORM,
        occurred_at=submission.created_at,
        awaiting_confirmation=True,
    )
    CallToAction.objects.create(label="Go", slug="go", target_url="https://example.com/offer")

    message_tokens = [
        tokens.open_token(message.pk),
        tokens.unsubscribe_token(message.pk),
        tokens.click_token(message.pk, CLICK_URL),
        tokens.open_token(gone_pk),
        tokens.unsubscribe_token(gone_pk),
        tokens.click_token(gone_pk, CLICK_URL),
        tokens.open_token(TOO_BIG),
        tokens.unsubscribe_token(TOO_BIG),
        tokens.click_token(TOO_BIG, CLICK_URL),
        tokens._OPEN.sign("²"),
        tokens._UNSUBSCRIBE.sign("-1"),
    ]
    capture = [
        capture_tokens.download_token_make(submission_id=submission.pk, offer_id=offer.pk),
        capture_tokens.download_token_make(submission_id=lost_submission.pk, offer_id=lost.pk),
        capture_tokens.download_token_make(submission_id=TOO_BIG, offer_id=TOO_BIG),
        signing.dumps({"s": "x", "o": [1]}, salt=capture_tokens.DOWNLOAD_SALT),
        signing.dumps([1, 2], salt=capture_tokens.DOWNLOAD_SALT),
        _expired({"s": submission.pk, "o": offer.pk}, salt=capture_tokens.DOWNLOAD_SALT),
        capture_tokens.opt_in_token_make(contact_id=contact.pk, consent_ids=[awaiting.pk]),
        capture_tokens.opt_in_token_make(contact_id=TOO_BIG, consent_ids=[TOO_BIG]),
        capture_tokens.opt_in_token_make(
            contact_id=contact.pk + 1000, consent_ids=[awaiting.pk + 1000]
        ),
        _expired(
            {"c": contact.pk, "k": [awaiting.pk]}, salt=capture_tokens.OPT_IN_SALT, compress=True
        ),
    ]
    yield message_tokens + capture
    offer.file.delete(save=False)


ROUTES = ["/e/o/{}.gif", "/e/c/{}", "/e/u/{}", "/e/p/{}", "/d/{}/", "/f/confirm/{}/", "/c/{}/"]

# What a server hands on: the raw bytes of the request line, read as latin-1 (PEP 3333).
raw_text = st.binary(max_size=40).map(lambda raw: raw.decode("latin-1"))
hostile_text = st.one_of(
    st.text(max_size=40),
    raw_text,
    st.binary(max_size=30).map(quote_from_bytes),  # percent-encoded bytes, UTF-8 or not
    st.sampled_from(
        ["%ff%fe", "%c0%af", "%ed%a0%80", "..%2f..%2f", "%00", "\x00", "go", "😀", "a" * 3000]
    ),
)


def _wire(text: str) -> str:
    """Text as a WSGI server hands it on: its UTF-8 bytes read as latin-1 (PEP 3333)."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


def _altered(token: str, data) -> str:
    """A valid token with one character replaced, cut short, or stretched."""
    how = data.draw(st.sampled_from(["replace", "cut", "append", "swap-sep"]))
    if how == "cut":
        return token[: data.draw(st.integers(0, max(0, len(token) - 1)))]
    if how == "append":
        return token + data.draw(hostile_text)
    if how == "swap-sep":
        return token.replace(":", ".").replace(".", ":", 1)
    index = data.draw(st.integers(0, len(token) - 1))
    return token[:index] + data.draw(st.characters(codec="utf-8")) + token[index + 1 :]


@st.composite
def requests(draw, signed: list[str]):
    kind = draw(st.sampled_from(["signed", "signed", "altered", "random"]))
    if kind == "signed":
        token = draw(st.sampled_from(signed))
    elif kind == "altered":
        token = _altered(draw(st.sampled_from(signed)), draw(st.data()))
    else:
        token = draw(hostile_text)
    route = draw(st.sampled_from(ROUTES))
    path = _wire(route.format(token.replace("/", draw(st.sampled_from(["%2F", "", "/"])))))
    query = draw(
        st.one_of(
            st.just(""),
            st.sampled_from(
                [
                    f"u={quote_from_bytes(CLICK_URL.encode())}",
                    "u=javascript:alert(1)",
                    "u=%ff",
                    "utm_source=ig&utm_source=fb",
                    "a=%00&b=%ff%fe",
                ]
            ),
            raw_text,
            hostile_text,
        )
    )
    method = draw(
        st.sampled_from(["GET", "GET", "POST", "POST", "HEAD", "PUT", "OPTIONS", "DELETE"])
    )
    content_type = draw(
        st.sampled_from(
            [
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=xyz",
                "multipart/form-data",
                "application/json",
                "text/plain; charset=utf-16",
                "application/x-www-form-urlencoded; charset=nope",
                "",
            ]
        )
    )
    body = draw(
        st.one_of(
            st.just(b""),
            st.just(b"List-Unsubscribe=One-Click"),
            st.binary(max_size=200),
            st.just(
                b'--xyz\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n1\r\n--xyz--\r\n'
            ),
            st.just(b'--xyz\r\nContent-Disposition: form-data; name="\xff"\r\n\r\n\xfe'),
            st.just(b"action=unsubscribe_all&purpose=%ff&purpose=" + b"9" * 30),
        )
    )
    headers = {
        "HTTP_USER_AGENT": draw(st.one_of(st.just("Mozilla/5.0"), raw_text)),
        "HTTP_ACCEPT_LANGUAGE": draw(st.one_of(st.just("pt-BR"), raw_text)),
        "HTTP_COOKIE": draw(st.one_of(st.just(""), raw_text)),
        "HTTP_X_FORWARDED_FOR": draw(st.one_of(st.just(""), raw_text)),
        "QUERY_STRING": _wire(query),
    }
    if draw(st.booleans()):
        headers["CONTENT_LENGTH"] = draw(st.sampled_from(["", "abc", "-1", str(10**30)]))
    return path, method, content_type, body, headers


def test_every_public_link_answers_below_500_whatever_it_is_sent(links):
    @settings(
        max_examples=300,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests(links))
    def every_answer_is_below_500(request):
        path, method, content_type, body, headers = request

        status, _headers, _content = wsgi_call(
            path, body, method=method, content_type=content_type, **headers
        )

        assert int(status.split()[0]) < 500, (method, path, headers, body)

    every_answer_is_below_500()


def test_a_download_link_whose_file_is_gone_is_404_not_500(links):
    token = links[len(links) - 9]  # the lost offer's download link (see the fixture)

    status, _headers, _content = wsgi_call(f"/d/{token}/", method="GET")

    assert status.startswith("404")
