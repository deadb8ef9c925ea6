"""Leadmill's email backends.

- :class:`SMTPEmailBackend`: Django's SMTP backend, whose envelope addresses cost less.
- :class:`OutboxEmailBackend` (the embedded mode): keeps every message in the back
  office's outbox. Its copies show on the email log's pages. An email sent around the
  message log (a password reset, an admin's test email) gets a log row of its own, as
  sent, so the one log screen shows everything the embedded mode "sent".
"""

import functools
import re
import smtplib

from django.conf import settings
from django.core.mail.backends import smtp
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import sanitize_address
from django.utils import timezone

# An address Django's sanitize_address returns unchanged: ASCII, no display name, no
# quoting, a dotted domain without an IDN label.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\Z"
)


@functools.lru_cache(maxsize=1024)
def _envelope_address_parsed(address: str, encoding: str) -> str:
    return sanitize_address(address, encoding)


def envelope_address(address: str, encoding: str) -> str:
    """What Django's ``sanitize_address`` gives for an envelope address, without parsing
    a plain one (it parses every address with the ``email`` package's header parser: 45 µs
    each, two per email) and parsing the sender and repeated recipients once (ADR 63)."""
    if isinstance(address, str) and _PLAIN_ADDRESS.match(address):
        return address
    if not isinstance(address, str):  # (name, address) pairs: not cached
        return sanitize_address(address, encoding)
    return _envelope_address_parsed(address, encoding)


class SMTPEmailBackend(smtp.EmailBackend):
    """Django's SMTP backend (``EMAIL_HOST`` / ``EMAIL_URL``), its envelope addresses from
    :func:`envelope_address`; the message itself is the email's as Django builds it."""

    def _send(self, email_message):
        if not email_message.recipients():
            return False
        encoding = email_message.encoding or settings.DEFAULT_CHARSET
        from_email = envelope_address(email_message.from_email, encoding)
        recipients = [envelope_address(addr, encoding) for addr in email_message.recipients()]
        message = email_message.message()
        try:
            self.connection.sendmail(from_email, recipients, message.as_bytes(linesep="\r\n"))
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        from .models import Message, OutboxMessage

        rows = []
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []) or []:
                if mimetype == "text/html":
                    html = content
            mime = message.message()
            rows.append(
                OutboxMessage(
                    message_id=mime.get("Message-ID", ""),
                    from_email=message.from_email,
                    to=", ".join(message.recipients()),
                    subject=message.subject,
                    text_body=message.body,
                    html_body=html,
                    headers={k: str(v) for k, v in (message.extra_headers or {}).items()},
                )
            )
        OutboxMessage.objects.bulk_create(rows)
        ids = {row.message_id.strip("<>"): row for row in rows if row.message_id}
        logged = set(
            Message.objects.filter(message_id__in=ids).values_list("message_id", flat=True)
        )
        now = timezone.now()
        Message.objects.bulk_create(
            [
                Message(
                    message_id=message_id,
                    kind=Message.Kind.TRANSACTIONAL,
                    category="outside the log",
                    to_email=row.to[:254],
                    subject=row.subject[:300],
                    status=Message.Status.SENT,
                    sent_at=now,
                )
                for message_id, row in ids.items()
                if message_id not in logged
            ]
        )
        return len(rows)
