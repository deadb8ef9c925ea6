"""The one normalisation of emails and phones, and the free-mail test.

Every path that stores or looks up an email or a phone goes through here, so that
" Ana@Example.COM " and "ana@example.com" are the same person everywhere.
"""

from __future__ import annotations

import functools

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT, EMAIL_MAX_LENGTH

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
    if not check_deliverability and (normalised := _plain_email_normalised(value)):
        return normalised
    try:
        result = validate_email(value, check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            _("Enter a valid email address, like name@example.com."), code="email_invalid"
        ) from exc
    return f"{result.local_part.lower()}@{result.ascii_domain.lower()}"


def _plain_email_normalised(value: str) -> str | None:
    """The canonical form of a plain address (an ASCII dot-atom before the one @), checking
    its domain once per domain; None for anything else, which takes the whole check.

    The same answer as ``validate_email`` (a test compares them): for such a local part the
    library only matches this pattern and checks the lengths, while the domain's IDNA checks
    are most of its time, and domains repeat (gmail.com, a company's people).
    """
    local, at, domain = value.partition("@")
    if not at or "@" in domain or not DOT_ATOM_TEXT.match(local):
        return None
    checked = _domain_checked(domain)
    if checked is None:
        return None  # invalid: the whole check raises with its message
    ascii_domain, longest_form = checked
    if len(local) + 1 + longest_form > EMAIL_MAX_LENGTH:
        return None
    return f"{local.lower()}@{ascii_domain}"


@functools.lru_cache(maxsize=4096)
def _domain_checked(domain: str) -> tuple[str, int] | None:
    """(lower-case ASCII form, UTF-8 length of its longest form) of a valid domain, else None."""
    try:
        result = validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    forms = (domain, result.domain, result.ascii_domain)
    return result.ascii_domain.lower(), max(len(form.encode()) for form in forms)


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
