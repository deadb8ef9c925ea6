"""The lean MIME serialisation writes the bytes Django's own would, boundary aside."""

import re
from email import message_from_bytes
from email.errors import HeaderParseError
from email.policy import compat32

import pytest
from django.core.mail import EmailMultiAlternatives
from hypothesis import given
from hypothesis import strategies as st

from ..mime import ONE_LINE_HEADERS, LeanEmail

pytestmark = pytest.mark.django_db

_BOUNDARY = re.compile(rb'boundary="([^"]+)"')


def both(**fields) -> tuple[bytes, bytes]:
    """The wire bytes of the same email built by Django and as a LeanEmail, each with its
    boundary replaced by one marker."""
    html = fields.pop("html", None)
    out = []
    for cls in (EmailMultiAlternatives, LeanEmail):
        email = cls(
            headers={"Message-ID": "<1@example.com>", "Date": "Mon, 07 Dec 2026 00:00:00 -0000"},
            **fields,
        )
        if html is not None:
            email.attach_alternative(html, "text/html")
        raw = email.message().as_bytes(linesep="\r\n")
        if boundary := _BOUNDARY.search(raw):
            raw = raw.replace(boundary[1], b"BOUNDARY")
        out.append(raw)
    return out[0], out[1]


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "Ana, your guide", "from_email": "Leadmill <leads@example.com>"},
        {"subject": "Nova lead para você: João Ávila", "from_email": "Vendas <v@example.com>"},
        {"subject": "A subject long enough to be folded " * 4, "from_email": "a@example.com"},
        {"subject": "two  spaces and a trailing one ", "from_email": "a@example.com"},
        {"subject": "=?utf-8?q?already_encoded?=", "from_email": "Zoë <z@example.com>"},
        {"subject": "tab\there", "from_email": "a@example.com", "reply_to": ["r@example.com"]},
    ],
)
@pytest.mark.parametrize("html", [None, "<p>Olá, <b>Ana</b></p>\n" * 3])
def test_a_lean_email_is_byte_for_byte_djangos_own_but_for_the_boundary(fields, html):
    django_bytes, lean_bytes = both(
        body="Olá, Ana\n\nhttps://example.com/" + "x" * 120,
        to=["ana@example.com"],
        html=html,
        **fields,
    )

    assert lean_bytes == django_bytes


def test_a_multipart_lean_email_has_a_boundary_of_its_own_each_time():
    def boundary():
        email = LeanEmail(subject="s", body="text", to=["a@example.com"])
        email.attach_alternative("<p>html</p>", "text/html")
        raw = email.message().as_bytes(linesep="\r\n")
        parsed = message_from_bytes(raw)
        assert [part.get_content_type() for part in parsed.walk()] == [
            "multipart/alternative",
            "text/plain",
            "text/html",
        ]
        return parsed.get_boundary()

    first, second = boundary(), boundary()

    assert first != second
    assert len(first) >= 32


def folded(policy, name: str, value: str) -> bytes | str:
    try:
        return policy.clone(linesep="\r\n").fold_binary(name, value)
    except HeaderParseError as error:  # an embedded header ("\n0:") is refused by both
        return type(error).__name__


@given(
    name=st.sampled_from(["Subject", "From", "To", "List-Unsubscribe", "X-A-Rather-Long-Name"]),
    value=st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=0x7F), max_size=90),
)
def test_a_header_folds_as_compat32_folds_it(name, value):
    assert folded(ONE_LINE_HEADERS, name, value) == folded(compat32, name, value)
