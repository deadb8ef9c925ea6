"""The SMTP backend's envelope addresses are what Django's would be, and reach the server."""

import pytest
from django.core.mail import get_connection
from django.core.mail.message import sanitize_address
from hypothesis import given
from hypothesis import strategies as st

from leadmill.core.tests.smtp_sink import Inbox, smtp_running

from ..backends import SMTPEmailBackend, envelope_address
from ..mime import LeanEmail

pytestmark = pytest.mark.django_db

_ATOM = st.text(alphabet="abcxyzABC019_%+-", min_size=1, max_size=12)


@given(
    local=st.lists(_ATOM, min_size=1, max_size=3).map(".".join),
    domain=st.lists(
        st.text(alphabet="abz09-", min_size=1, max_size=10), min_size=2, max_size=4
    ).map(".".join),
)
def test_a_plain_address_is_what_django_makes_of_it(local, domain):
    address = f"{local}@{domain}"
    assert envelope_address(address, "utf-8") == sanitize_address(address, "utf-8")


@given(address=st.text(max_size=60))
def test_any_text_gets_django_s_answer_or_its_error(address):
    try:
        expected = sanitize_address(address, "utf-8")
    except Exception as error:  # noqa: BLE001 -- the same refusal, whatever it is
        with pytest.raises(type(error)):
            envelope_address(address, "utf-8")
    else:
        assert envelope_address(address, "utf-8") == expected


@pytest.mark.parametrize(
    "address",
    [
        "Leadmill <leads@example.com>",
        "Zoë Ñandú <zoe@example.com>",
        "zoe@exämple.com",
        '"quoted local"@example.com',
        "no-at-sign",
        ("Ana", "ana@example.com"),
    ],
)
def test_named_and_international_addresses_are_parsed_as_django_does(address):
    assert envelope_address(address, "utf-8") == sanitize_address(address, "utf-8")


def test_the_backend_sends_to_the_server_with_the_envelope_django_would_use():
    inbox = Inbox()
    with smtp_running(inbox) as port:
        connection = get_connection(
            "leadmill.messaging.backends.SMTPEmailBackend", host="127.0.0.1", port=port
        )
        assert isinstance(connection, SMTPEmailBackend)
        email = LeanEmail(
            subject="Olá",
            body="text",
            from_email="Zoë <zoe@example.com>",
            to=["ana@example.com", "Bruno <bruno@exämple.com>"],
            connection=connection,
        )
        email.attach_alternative("<p>html</p>", "text/html")

        assert email.send() == 1

    # smtplib puts the address part of each in the envelope (MAIL FROM, RCPT TO).
    assert inbox.senders == ["zoe@example.com"]
    assert inbox.recipients == [["ana@example.com", "bruno@xn--exmple-cua.com"]]
    (received,) = inbox.messages
    assert received["Subject"] == "Olá" and "Zoë" in str(received["From"])
