"""Reads on consent, and the one place that decides whether a contact may be emailed.

Marketing email needs three things at once: the contact's latest answer for an
email-marketing purpose is a grant that is not waiting for its double opt-in confirmation,
the contact has an email address, and that address is not on the suppression list.
:func:`marketing_recipients` is the rule for a batch (two queries whatever its size);
:func:`may_receive_marketing_email` is the same rule for one contact. Any email at all
(transactional included) only needs the address not to be suppressed: :func:`may_receive_email`.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Collection
from pathlib import Path

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils.crypto import salted_hmac

from leadmill.contacts.identity import email_normalise
from leadmill.core.errors import ValidationFailed

from .models import Consent, Purpose, PurposeText, Suppression

ADDRESS_HASH_SALT = "leadmill.consent.address_hash"
SUPPRESSION_KEY_FILE = "suppression_key"


# What :func:`purpose_texts_stated` found: (purpose key, version) -> (purpose id, text id, when).
_texts_found: dict[tuple[str, int], tuple[int, int, float]] = {}
_texts_found_lock = threading.Lock()
TEXTS_FOUND_KEPT_S = 60.0
_TEXTS_FOUND_MAX = 1000


def purpose_texts_stated(
    pairs: Collection[tuple[str, int]],
) -> dict[tuple[str, int], tuple[int, int]]:
    """The purpose id and text id of each (purpose key, text version) of ``pairs`` that
    exists: what an API caller states the person saw. Leaves out the pairs that do not.

    On the API's hot path, so what was found is kept in this process for
    ``TEXTS_FOUND_KEPT_S``: a text version is immutable and protected from deletion, so a
    found pair stays true; only a purpose's key renamed meanwhile is still accepted for that
    while, and it names the same purpose and text. A pair not found is asked again every
    time, so a new version is usable at once."""
    now = time.monotonic()
    found: dict[tuple[str, int], tuple[int, int]] = {}
    missing = set()
    for pair in pairs:
        kept = _texts_found.get(pair)
        if kept is not None and now - kept[2] < TEXTS_FOUND_KEPT_S:
            found[pair] = kept[:2]
        else:
            missing.add(pair)
    if not missing:
        return found
    rows = PurposeText.objects.filter(purpose__key__in={key for key, _version in missing})
    for key, version, purpose_id, text_id in rows.values_list(
        "purpose__key", "version", "purpose_id", "pk"
    ):
        if (key, version) in missing:
            found[(key, version)] = (purpose_id, text_id)
    with _texts_found_lock:
        if len(_texts_found) >= _TEXTS_FOUND_MAX:
            _texts_found.clear()
        for pair in missing & found.keys():
            _texts_found[pair] = (*found[pair], now)
    return found


def purpose_texts_clear() -> None:
    """Forget what :func:`purpose_texts_stated` kept (tests: a flushed database reuses ids)."""
    with _texts_found_lock:
        _texts_found.clear()


def _normalised(email: str) -> str:
    try:
        return email_normalise(email, check_deliverability=False)
    except ValidationFailed:  # a bounce report may carry an address our forms would refuse
        return (email or "").strip().lower()


def address_hash(email: str) -> str:
    """The keyed hash (HMAC-SHA256 under :func:`suppression_key`) of the normalised address,
    in hex: what a new suppression row stores.

    What the suppression list stores instead of the address: it cannot be reversed without
    the key, yet the same address always gives the same hash.
    """
    return hash_under(_normalised(email), key=suppression_key())


def hash_under(normalised_email: str, *, key: str) -> str:
    """The suppression hash of an already normalised address under ``key``."""
    return salted_hmac(
        ADDRESS_HASH_SALT, normalised_email, secret=key, algorithm="sha256"
    ).hexdigest()


def suppression_key() -> str:
    """The key of the suppression list's hashes: ``LEADMILL_SUPPRESSION_KEY``, a key of its own
    that rotating SECRET_KEY never touches (the list cannot be re-keyed without the addresses,
    and an erasure keeps none).

    Unset (the embedded mode), the key pinned in ``<data dir>/suppression_key``: written on
    first use with the SECRET_KEY then in force, which is what every hash stored before the
    list had its own key was made with, so an existing list keeps matching after SECRET_KEY
    is rotated. ``check --deploy`` warns when the variable is unset.
    """
    if settings.LEADMILL_SUPPRESSION_KEY:
        return settings.LEADMILL_SUPPRESSION_KEY
    return _pinned_key(Path(settings.DATA_DIR) / SUPPRESSION_KEY_FILE)


@functools.cache
def _pinned_key(path: Path) -> str:
    if not path.exists():
        # Written whole beside it, then linked into place: of two processes starting at once
        # one wins, and neither can read a half-written file. 0600 from the start.
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as pinned:
            pinned.write(settings.SECRET_KEY)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def suppression_keys() -> list[str]:
    """Every key a stored hash may be under: :func:`suppression_key`, then
    ``LEADMILL_SUPPRESSION_KEY_FALLBACKS`` (old keys kept while rows under them are left)."""
    return list(dict.fromkeys([suppression_key(), *settings.LEADMILL_SUPPRESSION_KEY_FALLBACKS]))


def address_hashes(email: str, *, normalised: bool = False) -> list[str]:
    """The address's hash under each of :func:`suppression_keys`, to look a row up by."""
    value = email.strip().lower() if normalised else _normalised(email)
    return [hash_under(value, key=key) for key in suppression_keys()]


def is_suppressed(*, email: str) -> bool:
    """True when the address is on the suppression list (hard bounce, complaint, erasure, by hand)."""
    return Suppression.objects.filter(address_hash__in=address_hashes(email)).exists()


def may_receive_email(*, email: str) -> bool:
    """Whether any email at all, transactional included, may go to this address."""
    return email in addresses_receiving_email(emails=[email])


def addresses_receiving_email(*, emails: Collection[str]) -> set[str]:
    """The addresses of ``emails`` (as given) that any email at all, transactional
    included, may go to: not empty and not suppressed. One query for them all (a chunk of
    transactional emails)."""
    hashes = {email: address_hashes(email) for email in set(emails) if (email or "").strip()}
    if not hashes:
        return set()
    suppressed = set(
        Suppression.objects.filter(
            address_hash__in=sorted({h for values in hashes.values() for h in values})
        ).values_list("address_hash", flat=True)
    )
    return {email for email, values in hashes.items() if suppressed.isdisjoint(values)}


def consent_current(*, contact_id: int) -> dict[str, bool]:
    """Each purpose key mapped to the contact's latest answer for it."""
    latest = Consent.objects.filter(contact_id=contact_id, purpose=OuterRef("pk")).order_by(
        "-occurred_at", "-id"
    )
    rows = Purpose.objects.annotate(granted=Subquery(latest.values("granted")[:1])).values_list(
        "key", "granted"
    )
    return {key: bool(granted) for key, granted in rows if granted is not None}


def latest_consents(*, contact_ids: Collection[int], purpose_ids: Collection[int] | None = None):
    """Consent rows that are the latest answer of their (contact, purpose), as a queryset.

    Set-based: a row is the latest when no row of the same contact and purpose is newer
    (by time, then id), which the (contact, purpose, occurred_at) index answers directly.
    The contact ids are repeated inside the subquery so that PostgreSQL, when it prefers a
    hash anti-join, reads only these contacts' rows instead of the whole ledger.
    """
    ids = list(contact_ids)
    newer = Consent.objects.filter(
        contact_id=OuterRef("contact_id"), purpose_id=OuterRef("purpose_id"), contact_id__in=ids
    ).filter(
        Q(occurred_at__gt=OuterRef("occurred_at"))
        | Q(occurred_at=OuterRef("occurred_at"), pk__gt=OuterRef("pk"))
    )
    rows = Consent.objects.filter(contact_id__in=ids)
    if purpose_ids is not None:
        rows = rows.filter(purpose_id__in=list(purpose_ids))
    return rows.filter(~Exists(newer))


def _newer_answer() -> Exists:
    """A later answer of the same contact to the same purpose (by time, then row id)."""
    return Exists(
        Consent.objects.filter(
            contact_id=OuterRef("contact_id"), purpose_id=OuterRef("purpose_id")
        ).filter(
            Q(occurred_at__gt=OuterRef("occurred_at"))
            | Q(occurred_at=OuterRef("occurred_at"), pk__gt=OuterRef("pk"))
        )
    )


def marketing_grant_q(*, purpose_id: int | None = None, purpose_key: str = "") -> Q:
    """The consent part of the rule, for a queryset of contacts (a correlated subquery).

    True when the contact's latest answer to the purpose is a grant not awaiting double opt-in
    confirmation. ``purpose_id``: that email-marketing purpose (a purpose that does not permit
    marketing email never does); ``purpose_key``: that purpose, whatever it permits (a
    segment condition); neither: any email-marketing purpose. Suppression is not in it (the list holds keyed hashes, computed in Python): use
    :func:`marketing_recipients` to decide a send. Segments use this to filter in SQL.
    """
    grants = Consent.objects.filter(
        contact_id=OuterRef("pk"), granted=True, awaiting_confirmation=False
    )
    if purpose_id is not None:
        grants = grants.filter(purpose_id=purpose_id, purpose__is_email_marketing=True)
    elif purpose_key:
        grants = grants.filter(purpose__key=purpose_key)
    else:
        grants = grants.filter(purpose__is_email_marketing=True)
    return Q(Exists(grants.filter(~_newer_answer())))


def marketing_recipients(
    *, contact_ids: Collection[int], purpose_id: int | None = None
) -> set[int]:
    """The contacts among ``contact_ids`` that may receive marketing email now.

    ``purpose_id`` names the subscription type the message is for; None accepts any
    email-marketing purpose. Two queries whatever the batch size: the permitted contacts
    with their addresses (their latest answers, :func:`latest_consents`, joined to the
    contact), then which addresses are suppressed.
    """
    ids = list(contact_ids)
    if not ids:
        return set()
    # The latest answers of these contacts only (the ledger's contact index), then their
    # addresses by a join: not a correlated subquery per contact, whose plan on a table
    # not yet analysed (a busy intake) went quadratic, seconds per batch.
    latest = latest_consents(contact_ids=ids).filter(
        granted=True, awaiting_confirmation=False, purpose__is_email_marketing=True
    )
    if purpose_id is not None:
        latest = latest.filter(purpose_id=purpose_id)
    emails = dict(
        latest.filter(contact__email__isnull=False)
        .exclude(contact__email="")
        .order_by()
        .values_list("contact_id", "contact__email")
    )
    if not emails:
        return set()
    # Stored addresses are normalised already (contacts.identity): a lower() is enough here.
    hashes = {
        contact_id: address_hashes(email, normalised=True) for contact_id, email in emails.items()
    }
    suppressed = set(
        Suppression.objects.filter(
            address_hash__in=[h for per_contact in hashes.values() for h in per_contact]
        ).values_list("address_hash", flat=True)
    )
    return {contact_id for contact_id, own in hashes.items() if suppressed.isdisjoint(own)}


def may_receive_marketing_email(*, contact_id: int, purpose_id: int | None = None) -> bool:
    """Whether marketing email may go to this contact now: :func:`marketing_recipients` for one.

    True when the latest answer for the purpose (any email-marketing purpose when
    ``purpose_id`` is None) is a confirmed grant, the contact has an email address and that
    address is not suppressed.
    """
    return contact_id in marketing_recipients(contact_ids=[contact_id], purpose_id=purpose_id)


def double_opt_in_pending(*, contact_id: int, consent_ids: Collection[int]):
    """The contact's latest answers, for the purposes of ``consent_ids``, that are grants
    still awaiting their double opt-in confirmation, as a queryset.

    Empty once confirmed or withdrawn: what makes a confirmation link single-use. Rows of
    ``consent_ids`` that belong to another contact are ignored.
    """
    purpose_ids = set(
        Consent.objects.filter(pk__in=list(consent_ids), contact_id=contact_id).values_list(
            "purpose_id", flat=True
        )
    )
    if not purpose_ids:
        return Consent.objects.none()
    return latest_consents(contact_ids=[contact_id], purpose_ids=purpose_ids).filter(
        granted=True, awaiting_confirmation=True
    )
