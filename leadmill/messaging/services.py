"""Sending email. Transactional email goes to whoever asked for it, marketing consent aside;
no email at all goes to a suppressed address (a hard bounce, a complaint, an erasure)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.html import strip_tags

from leadmill.consent.selectors import address_hash, may_receive_email

logger = logging.getLogger(__name__)


def email_send_transactional(
    *, to: str, subject: str, html: str, text: str = "", headers: dict[str, str] | None = None
) -> int:
    """Send one transactional message (a download link, a confirmation) now.

    The plain-text part is generated from the HTML when not given. Returns 1 when sent, 0
    when the address is suppressed (nothing is sent to it).
    """
    if not may_receive_email(email=to):
        logger.info("transactional email not sent: address %s is suppressed", address_hash(to)[:12])
        return 0
    message = EmailMultiAlternatives(
        subject=subject,
        body=text or strip_tags(html).strip(),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=headers or {},
    )
    message.attach_alternative(html, "text/html")
    return message.send()
