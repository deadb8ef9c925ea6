"""The one normalisation of emails and phones, and the free-mail test.

Every path that stores or looks up an email or a phone goes through here, so that
" Ana@Example.COM " and "ana@example.com" are the same person everywhere.
"""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email

from leadmill.core.errors import ValidationFailed

FREE_MAIL_DOMAINS = frozenset(
    """
    gmail.com googlemail.com yahoo.com yahoo.com.br yahoo.co.uk ymail.com hotmail.com
    hotmail.com.br hotmail.co.uk outlook.com outlook.com.br live.com live.com.br msn.com
    icloud.com me.com mac.com aol.com protonmail.com proton.me pm.me gmx.com gmx.de gmx.net
    web.de mail.com zoho.com yandex.com yandex.ru mail.ru bol.com.br uol.com.br terra.com.br
    ig.com.br qq.com 163.com 126.com fastmail.com tutanota.com hey.com
    """.split()  # noqa: SIM905 (a block of words is easier to read and extend than a list)
)


def email_normalise(raw: str, *, check_deliverability: bool | None = None) -> str:
    """Return the canonical form of an email address or raise ValidationFailed.

    The domain is lower-cased (IDNA), and so is the local part: mailbox providers treat it
    case-insensitively in practice, and a lead typing "Ana@" once and "ana@" later is one
    person. Deliverability (DNS) is checked only when the setting asks for it.
    """
    if check_deliverability is None:
        check_deliverability = settings.LEADMILL_EMAIL_CHECK_DELIVERABILITY
    value = (raw or "").strip()
    if not value:
        raise ValidationFailed(_("Enter an email address."), code="email_missing")
    try:
        result = validate_email(value, check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            _("Enter a valid email address, like name@example.com."), code="email_invalid"
        ) from exc
    return f"{result.local_part.lower()}@{result.ascii_domain.lower()}"


def phone_normalise(raw: str, *, region: str | None = None) -> str:
    """Return the phone number in E.164 (+5511912345678) or raise ValidationFailed."""
    value = (raw or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region or settings.LEADMILL_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(
            _("Enter a valid phone number, with the country code if it is not local."),
            code="phone_invalid",
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(
            _("Enter a valid phone number, with the country code if it is not local."),
            code="phone_invalid",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1] if "@" in email else ""


def is_free_mail(email: str) -> bool:
    """True for addresses at consumer mailbox providers (no company can be inferred)."""
    return email_domain(email) in FREE_MAIL_DOMAINS
