"""Writes on the consent ledger and the suppression list.

The ledger is append-only: a withdrawal or a double opt-in confirmation is a new row, so
every moment of a person's permission stays on record with its proof.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from collections.abc import Collection

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.contacts.models import Contact
from leadmill.core import events
from leadmill.core.db import instances_insert
from leadmill.core.errors import ValidationFailed

from . import selectors
from .events import MarketingConsentWithdrawn
from .models import Consent, Purpose, PurposeText, Suppression


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
    author: str = ""  # who stated the answer for the person (``api_key:12``); empty: the person


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
    *,
    contact: Contact,
    granted: dict[int, bool],
    texts: dict[int, PurposeText | int],
    proof: ConsentProof,
    double_opt_in: bool = False,
) -> list[Consent]:
    """Append one consent row per purpose id in ``granted`` (True = agreed, False = declined).

    ``texts`` maps each purpose id to the text version the person was shown (the row or its id).
    With ``double_opt_in``, a grant of an email-marketing purpose is recorded as awaiting
    confirmation (no marketing email until :func:`double_opt_in_confirm`), unless the
    contact already holds a confirmed grant for it: they proved the address before.
    :func:`consent_answers_record` with a list of one.
    """
    answers = ConsentAnswers(
        contact=contact, granted=granted, texts=texts, proof=proof, double_opt_in=double_opt_in
    )
    return consent_answers_record(answers=[answers])


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConsentAnswers:
    """One lead's answers, for :func:`consent_answers_record`: the arguments of
    :func:`consents_record`."""

    contact: Contact
    granted: dict[int, bool]
    texts: dict[int, PurposeText | int]
    proof: ConsentProof
    double_opt_in: bool = False


def consent_answers_record(*, answers: list[ConsentAnswers]) -> list[Consent]:
    """:func:`consents_record` for many leads at once (a processing batch): one INSERT of
    every row; with double opt-in, one read of the marketing purposes asked and one of the
    confirmed grants their contacts already hold. Returns the rows, in order."""
    asked = {
        purpose_id
        for answer in answers
        if answer.double_opt_in
        for purpose_id, agreed in answer.granted.items()
        if agreed
    }
    marketing: set[int] = set()
    confirmed: set[tuple[int, int]] = set()
    if asked:
        marketing = set(
            Purpose.objects.filter(pk__in=asked, is_email_marketing=True).values_list(
                "pk", flat=True
            )
        )
    if marketing:
        confirmed = set(
            selectors.latest_consents(
                contact_ids=sorted({a.contact.pk for a in answers if a.double_opt_in}),
                purpose_ids=marketing,
            )
            .filter(granted=True, awaiting_confirmation=False)
            .values_list("contact_id", "purpose_id")
        )
    rows = []
    for answer in answers:
        proof = answer.proof
        at = proof.occurred_at or timezone.now()
        rows.extend(
            Consent(
                contact=answer.contact,
                purpose_id=purpose_id,
                purpose_text_id=_text_id(answer.texts.get(purpose_id)),
                granted=agreed,
                method=proof.method,
                occurred_at=at,
                form_id=proof.form_id,
                submission_id=proof.submission_id,
                page_url=proof.page_url[:500],
                ip_address=ip_for_storage(proof.ip_address),
                user_agent=proof.user_agent[:500],
                author=proof.author[:100],
                awaiting_confirmation=(
                    answer.double_opt_in
                    and agreed
                    and purpose_id in marketing
                    and (answer.contact.pk, purpose_id) not in confirmed
                ),
            )
            for purpose_id, agreed in answer.granted.items()
        )
    return instances_insert(rows) if rows else []


def double_opt_in_confirm(
    *, consent_ids: Collection[int], proof: ConsentProof, contact_id: int | None = None
) -> int:
    """Confirm grants awaiting double opt-in: append a ``double_opt_in`` grant per purpose.

    For each (contact, purpose) of the given rows whose latest answer is still a grant
    awaiting confirmation, a confirmed grant is appended with the same text version, the
    proof of the click (IP, user agent, time) and the form and submission of the original.
    ``contact_id`` limits the confirmation to that contact's rows (a link names its contact).
    Idempotent: a purpose already confirmed, or withdrawn since, gets no row. Returns the
    number of rows written (0 on a second click).
    """
    rows = Consent.objects.filter(pk__in=list(consent_ids))
    if contact_id is not None:
        rows = rows.filter(contact_id=contact_id)
    contact_ids = sorted(set(rows.values_list("contact_id", flat=True)))
    at = proof.occurred_at or timezone.now()
    written = 0
    with transaction.atomic():
        for owner_id in contact_ids:
            # Lock the contact so two clicks at once cannot both see "still awaiting".
            Contact.objects.select_for_update().filter(pk=owner_id).first()
            pending = selectors.double_opt_in_pending(contact_id=owner_id, consent_ids=consent_ids)
            confirmations = [
                Consent(
                    contact_id=owner_id,
                    purpose_id=row.purpose_id,
                    purpose_text_id=row.purpose_text_id,
                    granted=True,
                    method=Consent.Method.DOUBLE_OPT_IN,
                    occurred_at=at,
                    form_id=row.form_id,
                    submission_id=row.submission_id,
                    page_url=(proof.page_url or row.page_url)[:500],
                    ip_address=ip_for_storage(proof.ip_address),
                    user_agent=proof.user_agent[:500],
                    awaiting_confirmation=False,
                )
                for row in pending
            ]
            written += len(Consent.objects.bulk_create(confirmations))
    return written


def marketing_unsubscribe(
    *, contact_id: int, purpose_ids: list[int] | None, proof: ConsentProof
) -> int:
    """Withdraw marketing permission: append a withdrawal (granted=False) per purpose.

    ``purpose_ids`` None withdraws every email-marketing purpose whose latest answer is a
    grant. Only purposes whose latest answer is a grant get a row, so a second unsubscribe
    writes nothing. The rows' method is ``unsubscribe`` (or ``admin`` / ``api`` when the
    proof says so). Publishes :class:`MarketingConsentWithdrawn` when a row was written.
    Returns the number of rows written.
    """
    method = (
        proof.method
        if proof.method in (Consent.Method.ADMIN, Consent.Method.API)
        else Consent.Method.UNSUBSCRIBE
    )
    at = proof.occurred_at or timezone.now()
    with transaction.atomic():
        Contact.objects.select_for_update().filter(pk=contact_id).first()
        current = selectors.latest_consents(
            contact_ids=[contact_id], purpose_ids=purpose_ids
        ).filter(granted=True)
        if purpose_ids is None:
            current = current.filter(purpose__is_email_marketing=True)
        withdrawn = sorted(set(current.order_by().values_list("purpose_id", flat=True)))
        if not withdrawn:
            return 0
        Consent.objects.bulk_create(
            Consent(
                contact_id=contact_id,
                purpose_id=purpose_id,
                granted=False,
                method=method,
                occurred_at=at,
                form_id=proof.form_id,
                submission_id=proof.submission_id,
                page_url=proof.page_url[:500],
                ip_address=ip_for_storage(proof.ip_address),
                user_agent=proof.user_agent[:500],
            )
            for purpose_id in withdrawn
        )
        events.publish(
            MarketingConsentWithdrawn(contact_id=contact_id, purpose_ids=withdrawn, occurred_at=at)
        )
    return len(withdrawn)


def suppression_add(*, email: str, reason: str, detail: str = "") -> bool:
    """Put an address on the suppression list: no email of any kind goes to it again.

    Stores only the keyed hash of the address. Idempotent: True when the address was added,
    False when it was already listed (its first reason is kept). Raises ValidationFailed
    for an empty address or an unknown reason.
    """
    if not (email or "").strip():
        raise ValidationFailed(_("Enter an email address."), code="email_missing")
    if reason not in Suppression.Reason.values:
        raise ValidationFailed(
            _("Unknown suppression reason %(reason)s.") % {"reason": reason},
            code="suppression_reason_invalid",
        )
    if selectors.is_suppressed(email=email):
        return False
    try:
        with transaction.atomic():
            Suppression.objects.create(
                address_hash=selectors.address_hash(email), reason=reason, detail=detail[:500]
            )
    except IntegrityError:  # added by a concurrent call a moment ago
        return False
    return True


@dataclasses.dataclass(frozen=True)
class SuppressionRehash:
    rehashed: int  # rows moved from an old key to the current one
    current: int  # rows under the current key after the pass, whose address Leadmill knows
    unknown: int  # rows left as they were, under whichever key: no known address gives them


def suppression_rehash(*, old_keys: Collection[str], batch_size: int = 2000) -> SuppressionRehash:
    """Move the suppression list's hashes from ``old_keys`` to the current
    :func:`~leadmill.consent.selectors.suppression_key`.

    A keyed hash cannot be re-keyed without its address, so this goes through every address
    Leadmill still knows (the contacts' emails): a row whose hash is that address under an
    old key is rewritten under the current key (or dropped, when the address is already
    listed under it). Rows no known address explains (an erased person, a bounce of an
    address never a contact) are left as they are and counted in ``unknown``: they keep
    matching only while their key is in ``LEADMILL_SUPPRESSION_KEY_FALLBACKS``. Idempotent;
    one short transaction per batch of contacts, so it may run while Leadmill serves.
    """
    new_key = selectors.suppression_key()
    keys = [key for key in dict.fromkeys(old_keys) if key and key != new_key]
    stored = set(Suppression.objects.values_list("address_hash", flat=True))
    explained: set[str] = set()
    rehashed = 0
    emails = (
        Contact.objects.exclude(email__isnull=True)
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
    )
    batch: list[str] = []
    for email in emails.iterator(chunk_size=batch_size):
        batch.append(email)
        if len(batch) >= batch_size:
            rehashed += _rehash_batch(
                batch, keys=keys, new_key=new_key, stored=stored, explained=explained
            )
            batch = []
    rehashed += _rehash_batch(batch, keys=keys, new_key=new_key, stored=stored, explained=explained)
    return SuppressionRehash(
        rehashed=rehashed, current=len(explained), unknown=len(stored - explained)
    )


def _rehash_batch(
    emails: list[str], *, keys: list[str], new_key: str, stored: set[str], explained: set[str]
) -> int:
    moves: dict[str, str] = {}  # old hash -> new hash
    for email in emails:
        value = email.strip().lower()
        new = selectors.hash_under(value, key=new_key)
        for key in keys:
            old = selectors.hash_under(value, key=key)
            if old in stored and old != new:
                moves[old] = new
        if new in stored or new in moves.values():
            explained.add(new)
    if not moves:
        return 0
    with transaction.atomic():
        for old, new in moves.items():
            if new in stored:  # listed under both keys: the current row stays
                Suppression.objects.filter(address_hash=old).delete()
            else:
                Suppression.objects.filter(address_hash=old).update(address_hash=new)
                stored.add(new)
            stored.discard(old)
    return len(moves)


def _text_id(text: PurposeText | int | None) -> int | None:
    return text.pk if isinstance(text, PurposeText) else text


def purpose_ensure(*, key: str, name: str, text: str, is_email_marketing: bool = False) -> Purpose:
    """Create the purpose when missing (used by the demo and tests); returns it."""
    purpose, _created = Purpose.objects.get_or_create(
        key=key, defaults={"name": name, "text": text, "is_email_marketing": is_email_marketing}
    )
    return purpose
