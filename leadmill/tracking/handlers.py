"""Subscribers of the tracking app. Idempotent: events may arrive more than once."""

from __future__ import annotations

import logging

from leadmill.contacts.models import Contact
from leadmill.contacts.services import Touch, contact_update

from .events import VisitorIdentified
from .selectors import contact_first_touch

logger = logging.getLogger(__name__)


def first_touch_from_visits(event: VisitorIdentified) -> None:
    """Give the contact the first touch of the visits it made before it was known.

    A form post only knows the page it was sent from; when the visitor first came from a
    newsletter to another site of ours and clicked through, that earlier tracked touch is
    the contact's real first touch. Only an earlier touch replaces the stored one, so a
    repeated delivery changes nothing.
    """
    touch = contact_first_touch(contact_id=event.contact_id)
    contact = Contact.objects.filter(pk=event.contact_id).first()
    if touch is None or contact is None:
        return
    if contact.first_touch_at is not None and contact.first_touch_at <= touch.occurred_at:
        return
    # A tracked event keeps its source classified (the one vocabulary), not the raw tags.
    first = Touch(
        channel=touch.channel,
        source=touch.source,
        medium=touch.medium,
        campaign=touch.campaign,
        referrer=touch.referrer,
        landing_url=touch.url,
    )
    contact_update(
        contact=contact, changes={**first.columns("first"), "first_touch_at": touch.occurred_at}
    )
    logger.info("contact %s: first touch set from tracked event %s", contact.pk, touch.pk)
