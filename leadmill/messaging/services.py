"""Writes of messaging: queueing email, marketing and transactional, into the message log.

Every email is a :class:`~.models.Message` row before it is sent; the send queue
(:mod:`.sending`) sends it. Transactional email goes to whoever asked for it, marketing
consent aside; no email at all goes to a suppressed address (a hard bounce, a complaint,
an erasure).
"""

from __future__ import annotations

import dataclasses

from django.db import transaction

from leadmill.core import events
from leadmill.core.db import instances_insert

from .email_text import html_to_text
from .events import MessageQueued
from .models import Message
from .sending import messages_send_now

QUEUE_BATCH = 1000
MARKETING, TRANSACTIONAL = Message.Kind.MARKETING, Message.Kind.TRANSACTIONAL


def _queued_fact(message: Message) -> MessageQueued:
    return MessageQueued(
        message_id=message.pk,
        contact_id=message.contact_id,
        kind=message.kind,
        category=message.category,
        template_id=message.template_id,
        enrollment_id=message.enrollment_id,
        broadcast_id=message.broadcast_id,
        occurred_at=message.created_at,
    )


def message_queue(
    *,
    contact_id: int,
    template_id: int,
    enrollment_id: int | None = None,
    step_id: str = "",
    broadcast_id: int | None = None,
) -> Message:
    """Queue one marketing email to a contact; :func:`messages_send_due` sends it.

    Permission is checked at send time, not here: consent may change in between.
    Publishes :class:`~.events.MessageQueued`.
    """
    with transaction.atomic():
        message = Message.objects.create(
            contact_id=contact_id,
            template_id=template_id,
            enrollment_id=enrollment_id,
            step_id=step_id,
            broadcast_id=broadcast_id,
        )
        events.publish(_queued_fact(message))
    return message


def messages_queue_bulk(rows: list[Message], *, ignore_conflicts: bool = False) -> int:
    """Queue many unsaved marketing :class:`Message` rows in batched inserts, with a
    :class:`~.events.MessageQueued` fact for each (published in batches too, in the same
    transaction); returns how many were queued.

    ``ignore_conflicts``: a row a unique constraint refuses (the broadcast's contact has its
    message already) is skipped, and gets no fact.
    """
    for row in rows:
        row.status = Message.Status.QUEUED
        row.kind = MARKETING
    with transaction.atomic():
        if ignore_conflicts:
            Message.objects.bulk_create(rows, batch_size=QUEUE_BATCH, ignore_conflicts=True)
            # No ids come back from an insert that may skip rows: the Message-IDs (made
            # before the insert) name exactly the rows this call wrote.
            queued = []
            for start in range(0, len(rows), QUEUE_BATCH):
                chunk = [row.message_id for row in rows[start : start + QUEUE_BATCH]]
                queued.extend(Message.objects.filter(message_id__in=chunk))
        else:  # a sequence's emails, a batch per walk: the lean insert (ADR 72)
            queued = []
            for start in range(0, len(rows), QUEUE_BATCH):
                queued.extend(instances_insert(rows[start : start + QUEUE_BATCH]))
        # One outbox INSERT per batch, and one delivery task for the whole transaction.
        for start in range(0, len(queued), QUEUE_BATCH):
            events.publish_many(
                [_queued_fact(message) for message in queued[start : start + QUEUE_BATCH]]
            )
    return len(queued)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmailAttachment:
    """A text file sent with a transactional email (an event's calendar invitation).

    ``mimetype`` may carry parameters (``text/calendar; method=PUBLISH``); they go into the
    part's Content-Type as written."""

    filename: str
    content: str
    mimetype: str = "text/plain"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TransactionalEmail:
    """One transactional email to send (:func:`emails_send_transactional`)."""

    to: str
    subject: str
    html: str
    text: str = ""
    headers: dict[str, str] | None = None
    category: str = ""
    contact_id: int | None = None
    attachments: tuple[EmailAttachment, ...] = ()


def email_send_transactional(
    *,
    to: str,
    subject: str,
    html: str,
    text: str = "",
    headers: dict[str, str] | None = None,
    category: str = "",
    contact_id: int | None = None,
    attachments: tuple[EmailAttachment, ...] = (),
) -> Message:
    """:func:`emails_send_transactional` for one email; returns its message row."""
    email = TransactionalEmail(
        to=to,
        subject=subject,
        html=html,
        text=text,
        headers=headers,
        category=category,
        contact_id=contact_id,
        attachments=attachments,
    )
    return emails_send_transactional(emails=[email])[0]


def emails_send_transactional(*, emails: list[TransactionalEmail]) -> list[Message]:
    """Send transactional emails (a download link, a confirmation, a notification) now,
    through the message log: the rows are written first (one transaction), then sent at
    once over one connection to the mail server.

    Marketing consent does not apply; a suppressed address gets nothing (the row says
    ``suppressed``). When the mail server cannot take them now, the rows stay queued and
    the send queue retries them (:func:`messages_send_due`); nothing is raised. The
    plain-text part is generated from the HTML when not given. Returns the message rows,
    in the order of ``emails``. Call it outside a transaction (after commit): the sends
    are not undone by a rollback.
    """
    messages = emails_queue_transactional(emails=emails)
    ids = [message.pk for message in messages]
    messages_send_now(message_ids=ids)
    sent = Message.objects.in_bulk(ids)
    return [sent[pk] for pk in ids]


def emails_queue_transactional(*, emails: list[TransactionalEmail]) -> list[Message]:
    """Write transactional emails to the message log, queued, without sending them: for a
    caller that records something else in the same transaction (a reminder's claim) and
    sends after commit (:func:`~.sending.messages_send_now`); what it does not send, the
    send queue does. Publishes a :class:`~.events.MessageQueued` per email."""
    if not emails:
        return []
    with transaction.atomic():
        messages = instances_insert(
            [
                Message(
                    kind=TRANSACTIONAL,
                    category=email.category[:50],
                    contact_id=email.contact_id,
                    to_email=email.to,
                    subject=" ".join(email.subject.split())[:300],
                    body_html=email.html,
                    body_text=email.text or html_to_text(email.html),
                    headers=email.headers or {},
                    attachments=[dataclasses.asdict(file) for file in email.attachments],
                )
                for email in emails
            ]
        )
        events.publish_many([_queued_fact(message) for message in messages])
    return messages
