"""Sending email. Transactional email goes to whoever asked for it, consent aside."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.html import strip_tags


def email_send_transactional(
    *, to: str, subject: str, html: str, text: str = "", headers: dict[str, str] | None = None
) -> int:
    """Send one transactional message (a download link, a confirmation) now.

    The plain-text part is generated from the HTML when not given. Returns 1 when sent.
    """
    message = EmailMultiAlternatives(
        subject=subject,
        body=text or strip_tags(html).strip(),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=headers or {},
    )
    message.attach_alternative(html, "text/html")
    return message.send()
