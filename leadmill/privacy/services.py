"""Privacy's writes: the erasure of a person."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from wagtail.models import ModelLogEntry

from leadmill.consent.models import Suppression
from leadmill.consent.selectors import address_hash, suppression_key
from leadmill.consent.services import suppression_add
from leadmill.contacts.models import Contact
from leadmill.core.errors import NotFound
from leadmill.core.personal_data import personal_data_erase

from .models import ErasureRecord

logger = logging.getLogger(__name__)

ERASURE_HASH_SALT = "leadmill.privacy.erasure"


def erased_value_hash(value: str) -> str:
    """The keyed hash an ``Erase.HASH`` column gets (under the suppression list's own key,
    which survives a SECRET_KEY rotation): equal values stay equal, none can be read back."""
    return salted_hmac(
        ERASURE_HASH_SALT, value, secret=suppression_key(), algorithm="sha256"
    ).hexdigest()


def contact_erase(
    *,
    contact_id: int,
    by: AbstractBaseUser | None,
    reason: str,
    via: str = ErasureRecord.Via.BACK_OFFICE,
    by_name: str = "",
) -> ErasureRecord:
    """Erase a lead and its personal data, in one transaction (nothing half-done on failure):

    1. its email address goes on the suppression list (a keyed hash, reason "Person
       erased"), first, so no email of any kind reaches it again, even to a new lead
       created later with that address;
    2. every row the personal-data registry finds for it is erased as its declaration says
       (rows deleted, or columns blanked or hashed; the lead's own row last);
    3. the back office's history of the lead (Wagtail's log entries, which name it) goes;
    4. an :class:`ErasureRecord` says when, who, why and how many rows per model.

    ``by`` is the user who asked (None on the command line or the API; ``by_name`` then
    says who). Raises NotFound when there is no such lead (erased already, or merged away).
    """
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        if contact is None:
            raise NotFound(
                _("There is no lead #%(id)s (it may have been erased or merged already).")
                % {"id": contact_id},
                code="lead_not_found",
            )
        suppression_hash = ""
        if contact.email:
            suppression_add(email=contact.email, reason=Suppression.Reason.ERASED)
            suppression_hash = address_hash(contact.email)
        rows = personal_data_erase(subject=contact, hash_value=erased_value_hash)
        history, _per_model = ModelLogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Contact), object_id=str(contact_id)
        ).delete()
        if history:
            rows["wagtailcore.modellogentry"] = history
        record = ErasureRecord.objects.create(
            contact_id=contact_id,
            erased_by=by,
            erased_by_name=(by.get_username() if by is not None else by_name)[:150],
            via=via,
            reason=reason[:500],
            suppression_hash=suppression_hash,
            rows=dict(sorted(rows.items())),
        )
    logger.info("lead %s erased (erasure %s): %s", contact_id, record.pk, record.rows)
    return record
