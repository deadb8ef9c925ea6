"""Writes on the consent ledger."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress

from django.conf import settings
from django.utils import timezone

from leadmill.contacts.models import Contact

from .models import Consent, Purpose, PurposeText


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConsentProof:
    """Where and how a consent was given: the evidence kept beside it."""

    method: str = Consent.Method.FORM
    form_id: int | None = None
    submission_id: int | None = None
    page_url: str = ""
    ip_address: str | None = None
    user_agent: str = ""
    occurred_at: dt.datetime | None = None


def ip_for_storage(ip: str | None) -> str | None:
    """The IP as kept in proofs: truncated (/24, /48) when LEADMILL_TRUNCATE_IP is on."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if settings.LEADMILL_TRUNCATE_IP:
        prefix = 24 if address.version == 4 else 48
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
    return str(address)


def consents_record(
    *, contact: Contact, granted: dict[int, bool], texts: dict[int, PurposeText | int], proof: ConsentProof
) -> list[Consent]:
    """Append one consent row per purpose id in ``granted`` (True = agreed, False = declined).

    ``texts`` maps each purpose id to the text version the person was shown (the row or its id).
    """
    at = proof.occurred_at or timezone.now()
    rows = [
        Consent(
            contact=contact,
            purpose_id=purpose_id,
            purpose_text_id=_text_id(texts.get(purpose_id)),
            granted=agreed,
            method=proof.method,
            occurred_at=at,
            form_id=proof.form_id,
            submission_id=proof.submission_id,
            page_url=proof.page_url[:500],
            ip_address=ip_for_storage(proof.ip_address),
            user_agent=proof.user_agent[:500],
        )
        for purpose_id, agreed in granted.items()
    ]
    return Consent.objects.bulk_create(rows)


def _text_id(text: PurposeText | int | None) -> int | None:
    return text.pk if isinstance(text, PurposeText) else text


def purpose_ensure(*, key: str, name: str, text: str, is_email_marketing: bool = False) -> Purpose:
    """Create the purpose when missing (used by the demo and tests); returns it."""
    purpose, _created = Purpose.objects.get_or_create(
        key=key, defaults={"name": name, "text": text, "is_email_marketing": is_email_marketing}
    )
    return purpose
