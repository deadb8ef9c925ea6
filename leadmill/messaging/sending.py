"""Queueing and sending email, marketing and transactional: one message log, one send queue.

A message is a row before it is an email: ``queued`` → claimed (``sending``) → ``sent``,
or ``suppressed`` (no permission at send time) or ``failed`` (refused by the server, or a
template that cannot be rendered). :func:`messages_send_due` is safe to run from several
workers at once (claims skip each other's rows) and after a crash (claims older than a
lease go back to the queue; each message gets its ``sent_at`` the moment the server
accepted it, written with those of the same 50 ms in one statement, so a crash resends at
most those few messages — with the same Message-ID). A mail server that cannot be reached
leaves the rest queued: the next pass retries them.

The ``sent`` status and the :class:`~.events.MessageSent` facts are written per chunk, in
one transaction (one outbox INSERT, one delivery task), not per message: a fact per
message in each mark's commit halved the send rate (ADR 31). A message the server accepted
is ``sending`` with a ``sent_at`` until its chunk ends; one a crash left so is marked sent,
with its fact, when its claim's lease runs out (:func:`_stale_claims_release`), never sent
again.

Transactional email (:func:`email_send_transactional`) is written to the same log and sent
at once; when the server cannot take it, the queue retries it like any other message. It
comes first in every pass and is not held back by ``LEADMILL_EMAIL_MAX_PER_HOUR``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import smtplib
import time
from collections import defaultdict
from collections.abc import Iterable
from email.mime.text import MIMEText

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from leadmill.consent.selectors import (
    address_hash,
    addresses_receiving_email,
    marketing_recipients,
)
from leadmill.core import events
from leadmill.core.db import NO_FLUSH_WAIT, no_flush_wait_applies

from .emails import email_message_build
from .events import MessageSent
from .mime import LeanEmail
from .models import EmailTemplate, Message

logger = logging.getLogger(__name__)

CLAIM_CHUNK = 100
# The sent_at marks of the emails a server accepts within this many seconds are written
# together, in one statement (ADR 63): a crash resends at most those, with their Message-ID.
MARK_WINDOW_S = 0.05
_SUPPRESSED_REASON = "no marketing permission at send time, or the address is suppressed"
_SUPPRESSED_ADDRESS = "the address is suppressed (a hard bounce, a complaint or an erasure)"
MARKETING, TRANSACTIONAL = Message.Kind.MARKETING, Message.Kind.TRANSACTIONAL


@dataclasses.dataclass
class SendReport:
    """What one :func:`messages_send_due` call did."""

    sent: int = 0
    suppressed: int = 0
    failed: int = 0
    requeued: int = 0  # claimed, then put back because the mail server could not be reached
    reclaimed: int = 0  # left "sending" by a crashed worker longer than the lease
    throttled: bool = False  # stopped by LEADMILL_EMAIL_MAX_PER_HOUR
    connection_error: str = ""

    @property
    def did_something(self) -> bool:
        return bool(self.sent or self.suppressed or self.failed)


class _ServerUnavailable(Exception):
    """The mail server cannot take more now: stop, leave the rest queued."""


def message_send_now(*, message_id: int) -> SendReport:
    """:func:`messages_send_now` for one message."""
    return messages_send_now(message_ids=[message_id])


def messages_send_now(*, message_ids: list[int]) -> SendReport:
    """Send queued messages at once over one connection (transactional email does not wait
    for the next pass), in chunks of :data:`CLAIM_CHUNK`, as :func:`messages_send_due`
    does. Claimed first, so a pass running meanwhile cannot send them too (one already
    claimed or sent is left alone); a server that cannot be reached leaves the rest queued
    for the send queue to retry."""
    report = SendReport()
    mail = None
    try:
        for start in range(0, len(message_ids), CLAIM_CHUNK):
            claimed = _claim_ids(message_ids[start : start + CLAIM_CHUNK], now=timezone.now())
            if not claimed:
                continue
            if mail is None:
                mail = _connection_open(ids=claimed, report=report)
            _chunk_send(ids=claimed, templates={}, mail=mail, report=report)
    except _ServerUnavailable as error:
        report.connection_error = str(error)
        logger.warning("emails %s… left queued for a retry: %s", message_ids[:5], error)
    finally:
        _connection_close(mail)
    return report


def messages_send_due(*, limit: int = 500, now: dt.datetime | None = None) -> SendReport:
    """Send up to ``limit`` queued messages over one connection to the mail server.

    In chunks of :data:`CLAIM_CHUNK` (memory stays flat whatever ``limit``): claim, check
    permission of the whole chunk at once (``marketing_recipients``; the rest is marked
    ``suppressed`` and never sent), render, send each message and write its ``sent_at``
    right after the server accepted it; at the chunk's end mark the accepted ones ``sent``
    and publish their facts, in one transaction. A recipient the server refuses fails that message only;
    a server that cannot be reached (or answers "try later") stops the call and leaves the
    rest queued. ``LEADMILL_EMAIL_MAX_PER_HOUR`` caps what was sent in the last hour.
    Must not run inside a transaction: each ``sent_at`` mark is its own commit.
    """
    now = now or timezone.now()
    report = SendReport(reclaimed=_stale_claims_release(now=now))
    templates: dict[int, EmailTemplate] = {}
    mail = None
    left = limit
    try:
        for kind in (TRANSACTIONAL, MARKETING):
            budget = left if kind == TRANSACTIONAL else _hourly_budget(limit=left, now=now)
            if kind == MARKETING:
                report.throttled = budget < left and settings.LEADMILL_EMAIL_MAX_PER_HOUR > 0
            while budget > 0:
                ids = _claim(kind=kind, size=min(CLAIM_CHUNK, budget), now=now)
                if not ids:
                    break
                budget -= len(ids)
                left -= len(ids)
                if mail is None:
                    mail = _connection_open(ids=ids, report=report)
                _chunk_send(ids=ids, templates=templates, mail=mail, report=report)
    except _ServerUnavailable as error:
        report.connection_error = str(error)
    finally:
        _connection_close(mail)
    if report.sent or report.failed or report.requeued or report.suppressed:
        logger.info("email: %s", report)
    return report


def _connection_close(mail) -> None:
    if mail is None:
        return
    try:
        mail.close()
    except Exception:  # noqa: BLE001 -- closing a broken connection must not hide the report
        logger.debug("closing the mail connection failed", exc_info=True)


def _connection_open(*, ids: list[int], report: SendReport):
    """The one connection of this call, opened now; unreachable: the claimed ids go back."""
    mail = get_connection()
    try:
        mail.open()
    except (smtplib.SMTPException, OSError) as error:
        report.requeued += _requeue(ids)
        raise _ServerUnavailable(_smtp_error(error)) from error
    return mail


def _requeue(ids: list[int]) -> int:
    return Message.objects.filter(
        pk__in=ids, status=Message.Status.SENDING, sent_at__isnull=True
    ).update(status=Message.Status.QUEUED, claimed_at=None)


def _stale_claims_release(*, now: dt.datetime) -> int:
    """Finish what a crashed worker claimed: what the server had accepted (``sent_at`` is
    set) is marked sent, with its fact; the rest goes back in the queue. Returns how many
    went back."""
    lease = dt.timedelta(seconds=settings.LEADMILL_EMAIL_CLAIM_LEASE_SECONDS)
    stale = Message.objects.filter(status=Message.Status.SENDING, claimed_at__lt=now - lease)
    accepted = list(stale.filter(sent_at__isnull=False).values_list("pk", flat=True))
    for start in range(0, len(accepted), CLAIM_CHUNK):
        _sent_publish(accepted[start : start + CLAIM_CHUNK])
    return stale.filter(sent_at__isnull=True).update(status=Message.Status.QUEUED, claimed_at=None)


def _hourly_budget(*, limit: int, now: dt.datetime) -> int:
    per_hour = settings.LEADMILL_EMAIL_MAX_PER_HOUR
    if per_hour <= 0:
        return limit
    sent = Message.objects.filter(  # accepted ones still "sending" (their chunk runs) count too
        status__in=[Message.Status.SENT, Message.Status.SENDING],
        sent_at__gte=now - dt.timedelta(hours=1),
        kind=MARKETING,
    ).count()
    return max(0, min(limit, per_hour - sent))


def _claim(*, kind: str, size: int, now: dt.datetime) -> list[int]:
    """Mark up to ``size`` queued messages of ``kind`` ``sending`` (oldest first) and return
    their ids.

    One statement in a short transaction. PostgreSQL skips rows another worker is claiming
    (``SKIP LOCKED``); SQLite has a single writer, whose lock the IMMEDIATE transaction
    takes up front, so two workers can never claim the same row.
    """
    table = db_connection.ops.quote_name(Message._meta.db_table)
    due = f"SELECT id FROM {table} WHERE status = %s AND kind = %s ORDER BY created_at, id LIMIT %s"  # noqa: S608 -- quoted table name
    if db_connection.vendor == "postgresql":
        # A materialized CTE: inside "id IN (subquery)" PostgreSQL may rescan the locking
        # subquery and claim more than LIMIT rows.
        sql = (
            f"WITH due AS MATERIALIZED ({due} FOR UPDATE SKIP LOCKED) "  # noqa: S608 -- as above
            f"UPDATE {table} AS m SET status = %s, claimed_at = %s FROM due WHERE m.id = due.id RETURNING m.id"
        )
        params = [
            Message.Status.QUEUED,
            kind,
            size,
            Message.Status.SENDING,
            db_connection.ops.adapt_datetimefield_value(now),
        ]
    else:
        sql = f"UPDATE {table} SET status = %s, claimed_at = %s WHERE id IN ({due}) RETURNING id"  # noqa: S608 -- as above
        params = [
            Message.Status.SENDING,
            db_connection.ops.adapt_datetimefield_value(now),
            Message.Status.QUEUED,
            kind,
            size,
        ]
    with transaction.atomic(), db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def _claim_ids(ids: list[int], *, now: dt.datetime) -> list[int]:
    """Mark the messages of ``ids`` still queued ``sending``; returns those this call
    claimed (one ``UPDATE … RETURNING``: a row another worker claimed first is left out)."""
    table = db_connection.ops.quote_name(Message._meta.db_table)
    sql = (
        f"UPDATE {table} SET status = %s, claimed_at = %s "  # noqa: S608 -- quoted table name
        f"WHERE id IN ({', '.join(['%s'] * len(ids))}) AND status = %s RETURNING id"
    )
    params = [
        Message.Status.SENDING,
        db_connection.ops.adapt_datetimefield_value(now),
        *ids,
        Message.Status.QUEUED,
    ]
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def _templates_load(ids: Iterable[int | None], cache: dict[int, EmailTemplate]) -> None:
    missing = {pk for pk in ids if pk is not None} - cache.keys()
    if missing:
        cache.update(EmailTemplate.objects.in_bulk(missing))


def _permitted(messages: list[Message], templates: dict[int, EmailTemplate]) -> set[int]:
    """Ids of the messages whose contact may receive their template's subscription type now:
    one ``marketing_recipients`` call per subscription type in the chunk."""
    by_purpose: dict[int | None, list[Message]] = defaultdict(list)
    permitted: set[int] = set()
    receiving = addresses_receiving_email(
        emails=[m.to_email for m in messages if m.kind == TRANSACTIONAL]
    )
    for message in messages:
        if message.kind == TRANSACTIONAL:
            if message.to_email in receiving:
                permitted.add(message.pk)
            else:
                logger.info(
                    "transactional email %s not sent: address %s is suppressed",
                    message.pk,
                    address_hash(message.to_email)[:12],
                )
            continue
        by_purpose[templates[message.template_id].purpose_id].append(message)
    for purpose_id, group in by_purpose.items():
        allowed = marketing_recipients(
            contact_ids={m.contact_id for m in group}, purpose_id=purpose_id
        )
        permitted.update(m.pk for m in group if m.contact_id in allowed)
    return permitted


def _chunk_send(
    *, ids: list[int], templates: dict[int, EmailTemplate], mail, report: SendReport
) -> None:
    messages = list(
        Message.objects.filter(pk__in=ids).select_related("contact").order_by("created_at", "id")
    )
    _templates_load((m.template_id for m in messages), templates)
    permitted = _permitted(messages, templates)
    for kind, reason in ((MARKETING, _SUPPRESSED_REASON), (TRANSACTIONAL, _SUPPRESSED_ADDRESS)):
        refused = [m.pk for m in messages if m.pk not in permitted and m.kind == kind]
        if refused:
            report.suppressed += Message.objects.filter(
                pk__in=refused, status=Message.Status.SENDING
            ).update(status=Message.Status.SUPPRESSED, error=reason)
    to_send = [m for m in messages if m.pk in permitted]
    accepted: list[int] = []
    marks = _SentMarks()
    try:
        for position, message in enumerate(to_send):
            try:
                if _message_send(
                    message=message,
                    template=templates.get(message.template_id),
                    mail=mail,
                    report=report,
                    marks=marks,
                ):
                    accepted.append(message.pk)
            except _ServerUnavailable:
                report.requeued += _requeue([m.pk for m in to_send[position:]])
                raise
    finally:
        marks.write()
        _sent_publish(accepted)


class _SentMarks:
    """The ``sent_at`` marks of the emails the server accepted, written together once the
    oldest waited :data:`MARK_WINDOW_S` (at the next acceptance) and at the chunk's end.

    One statement for the emails of 50 ms instead of one commit each: against a fast mail
    server a commit per email cost as much of the worker's and PostgreSQL's CPU as the
    SMTP exchange (ADR 63). A crash resends at most the emails whose marks were waiting,
    with the same Message-ID (ADR 6 allowed the one in flight)."""

    def __init__(self) -> None:
        self.waiting: list[tuple[int, dt.datetime, str | None]] = []
        self.oldest = 0.0

    def add(self, message_id: int, *, sent_at: dt.datetime, subject: str | None) -> None:
        if not self.waiting:
            self.oldest = time.monotonic()
        self.waiting.append((message_id, sent_at, subject))
        if time.monotonic() - self.oldest >= MARK_WINDOW_S:
            self.write()

    def write(self) -> None:
        if self.waiting:
            _sent_at_write(self.waiting)
            self.waiting = []


def _sent_at_write(marks: list[tuple[int, dt.datetime, str | None]]) -> None:
    """Write ``sent_at`` (and a rendered subject) of accepted emails still ``sending``: one
    ``UPDATE … FROM`` a list of values in its own commit, which survives a crash of this
    process a moment later. They stay ``sending``: :func:`_sent_publish` marks them sent,
    with their facts, when their chunk ends.

    On PostgreSQL the commit does not wait for the WAL flush (core.db's ``NO_FLUSH_WAIT``):
    the marks are visible at once and kept if the worker dies; only a crash of the database
    server itself could forget the last few hundred milliseconds of marks, whose messages
    would go again with the same Message-ID (ADR 6)."""
    table = db_connection.ops.quote_name(Message._meta.db_table)
    postgres = db_connection.vendor == "postgresql"
    row = "(%s::bigint, %s::timestamptz, %s::text)" if postgres else "(%s, %s, %s)"
    params: list = []
    for message_id, sent_at, subject in marks:
        params += [message_id, db_connection.ops.adapt_datetimefield_value(sent_at), subject]
    no_flush_wait = f" AND {NO_FLUSH_WAIT}" if no_flush_wait_applies(db_connection) else ""
    sql = (
        f"WITH marks (id, sent_at, subject) AS (VALUES {', '.join([row] * len(marks))}) "  # noqa: S608 -- quoted table name, placeholders only
        f"UPDATE {table} SET sent_at = marks.sent_at, subject = COALESCE(marks.subject, "
        f"{table}.subject), error = '' FROM marks WHERE {table}.id = marks.id "
        f"AND {table}.status = %s{no_flush_wait}"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [*params, Message.Status.SENDING])


def _sent_publish(ids: list[int]) -> int:
    """Mark sent the messages of ``ids`` the server accepted (``sending`` with a ``sent_at``)
    and publish a :class:`~.events.MessageSent` for each, in one transaction: one UPDATE,
    one outbox INSERT, one delivery task. A row another worker marked meanwhile is left out
    (locked on PostgreSQL; SQLite's IMMEDIATE transaction serialises the two), so each
    message gets one fact. Returns how many were marked."""
    if not ids:
        return 0
    with transaction.atomic():
        accepted = list(
            Message.objects.select_for_update()
            .filter(pk__in=ids, status=Message.Status.SENDING, sent_at__isnull=False)
            .order_by("pk")
            .values("pk", "contact_id", "kind", "template_id", "sent_at")
        )
        if not accepted:
            return 0
        Message.objects.filter(pk__in=[row["pk"] for row in accepted]).update(
            status=Message.Status.SENT
        )
        events.publish_many(
            [
                MessageSent(
                    message_id=row["pk"],
                    contact_id=row["contact_id"],
                    kind=row["kind"],
                    template_id=row["template_id"],
                    occurred_at=row["sent_at"],
                )
                for row in accepted
            ]
        )
    return len(accepted)


def _transactional_build(message: Message, *, connection) -> EmailMultiAlternatives:
    email = LeanEmail(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to_email],
        headers={**message.headers, "Message-ID": f"<{message.message_id}>"},
        connection=connection,
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    for attachment in message.attachments:
        email.attach(_attachment_part(attachment))
    return email


def _attachment_part(attachment: dict) -> MIMEText:
    """A stored text attachment as a MIME part, its Content-Type parameters kept (a calendar
    invitation's ``method=PUBLISH``, which mail programs read to offer "add to calendar")."""
    mimetype, *parameters = (part.strip() for part in attachment["mimetype"].split(";"))
    part = MIMEText(attachment["content"], mimetype.split("/", 1)[1], "utf-8")
    for parameter in parameters:
        name, _sep, value = parameter.partition("=")
        part.set_param(name.strip(), value.strip().strip('"'))
    part.add_header("Content-Disposition", "attachment", filename=attachment["filename"])
    return part


def _message_send(
    *,
    message: Message,
    template: EmailTemplate | None,
    mail,
    report: SendReport,
    marks: _SentMarks,
) -> bool:
    """Send one message; True when the server accepted it (its ``sent_at`` goes to
    ``marks``)."""
    try:
        if message.kind == TRANSACTIONAL:
            email = _transactional_build(message, connection=mail)
        else:
            email = email_message_build(
                message=message, template=template, contact=message.contact, connection=mail
            )
    except Exception as error:  # noqa: BLE001 -- a broken template fails its messages, not the batch
        logger.warning(
            "email %s (template %s) cannot be rendered: %s",
            message.pk,
            message.template_id,
            error,
        )
        _mark_failed(message, error=f"render: {error}")
        report.failed += 1
        return False
    try:
        accepted = mail.send_messages([email])
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as error:
        _mark_failed(message, error=_smtp_error(error))
        report.failed += 1
        return False
    except smtplib.SMTPResponseException as error:
        if (
            error.smtp_code >= 500
        ):  # this message is refused (content, size, policy); 4xx: try later
            _mark_failed(message, error=_smtp_error(error))
            report.failed += 1
            return False
        raise _ServerUnavailable(_smtp_error(error)) from error
    except AnymailRecipientsRefused as error:  # an ESP refused this address
        _mark_failed(message, error=f"refused by the email provider: {error}")
        report.failed += 1
        return False
    except AnymailAPIError as error:
        if _refused_for_good(error):  # the ESP refused this message (4xx other than "slow down")
            _mark_failed(message, error=f"refused by the email provider: {error}")
            report.failed += 1
            return False
        raise _ServerUnavailable(f"{type(error).__name__}: {error}"[:500]) from error
    except (smtplib.SMTPException, OSError) as error:
        raise _ServerUnavailable(_smtp_error(error)) from error
    if accepted:
        # A marketing email's subject is its template's code until rendered: keep what
        # this lead got, for the lead's timeline and the email log.
        subject = email.subject[:300] if message.kind != TRANSACTIONAL else None
        marks.add(message.pk, sent_at=timezone.now(), subject=subject)
        report.sent += 1
        return True
    _mark_failed(message, error="the email backend did not accept the message")
    report.failed += 1
    return False


def _mark_failed(message: Message, *, error: str) -> None:
    """A message the server refused, or that could not be rendered: ``failed``, in its own
    commit (rare: the ORM's UPDATE)."""
    Message.objects.filter(pk=message.pk).update(status=Message.Status.FAILED, error=error[:500])


def _refused_for_good(error: AnymailAPIError) -> bool:
    """An ESP's HTTP answer that retrying will not change: 4xx except 408/429 (too slow,
    too many). Network errors and 5xx are the provider being unavailable: try later."""
    status = getattr(error, "status_code", None)
    return status is not None and 400 <= status < 500 and status not in (408, 429)


def _smtp_error(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            for address, (code, reply) in error.recipients.items()
        )[:500]
    if isinstance(error, smtplib.SMTPResponseException):
        message = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else error.smtp_error
        )
        return f"{error.smtp_code} {message}"[:500]
    return f"{type(error).__name__}: {error}"[:500]
