"""Facts the messaging app publishes on the domain event bus: what happened to each email.

Every fact names the message (``message_id`` is the ``Message`` row's id, not its
Message-ID header) and, where there is one, its contact, so analytics and outgoing webhooks
can count and forward them without reading messaging's tables. Transactional emails have a
``kind`` of ``"transactional"`` and may have no contact (an owner's notification).

Delivery is at least once: a subscriber must be idempotent.
"""

from __future__ import annotations

import datetime as dt

from leadmill.core.events import event


@event
class MessageQueued:
    """An email was written to the message log, to be sent by the send queue.

    ``template_id`` is set for marketing email; ``enrollment_id`` / ``broadcast_id`` name the
    nurture row that queued it; ``category`` says what a transactional email is.
    """

    message_id: int
    contact_id: int | None
    kind: str
    category: str
    template_id: int | None
    enrollment_id: int | None
    broadcast_id: int | None
    occurred_at: dt.datetime


@event
class MessageSent:
    """The mail server (or the email provider) accepted the email."""

    message_id: int
    contact_id: int | None
    kind: str
    template_id: int | None
    occurred_at: dt.datetime


@event
class MessageBounced:
    """The provider reported a hard bounce (or refused an invalid address) for an address.

    ``message_id`` is None when the bounce names an email Leadmill has no row for (the
    provider's Message-ID is not one of ours). The address is suppressed already.
    """

    message_id: int | None
    contact_id: int | None
    occurred_at: dt.datetime


@event
class MessageComplained:
    """The recipient marked the email as spam. The address is suppressed already."""

    message_id: int | None
    contact_id: int | None
    occurred_at: dt.datetime


@event
class MessageOpened:
    """The open pixel was fetched.

    ``scanner`` is True when a mail filter or a bot fetched it (see :mod:`.scanners`): such an
    open is recorded but does not count — it set no ``opened_at`` and must raise no score.
    """

    message_id: int
    contact_id: int | None
    scanner: bool
    occurred_at: dt.datetime


@event
class MessageClicked:
    """A tracked link was followed.

    ``scanner`` is True when a link checker followed it. ``earlier_clicks_flagged`` counts
    the earlier clicks of the same message this click proved to be a scanner's (a burst over
    every link): they were published with ``scanner=False`` and are bot clicks now, so a
    subscriber that counted them must count them again (scoring recomputes the lead).
    """

    message_id: int
    contact_id: int | None
    url: str
    scanner: bool
    earlier_clicks_flagged: int
    occurred_at: dt.datetime


@event
class MessageUnsubscribed:
    """The recipient unsubscribed through the email's link (one click, RFC 8058, or the
    preference centre's "unsubscribe from all"); ``purpose_ids`` are the subscription types
    withdrawn, empty for all of them."""

    message_id: int
    contact_id: int
    purpose_ids: tuple[int, ...]
    occurred_at: dt.datetime
