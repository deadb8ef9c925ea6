"""Writes of tracking: ingesting event batches, identifying visitors, pruning old events.

The collect endpoint's promise is "validate, write once, return": a batch costs one visitor
upsert and one ``bulk_create`` in a single short transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Collection, Sequence

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leadmill.contacts.models import Contact
from leadmill.core import events as domain_events
from leadmill.core.errors import NotFound

from . import bots
from .events import ContactEventRecorded, ContactEventsIngested, VisitorIdentified
from .models import Event, EventType, Visitor
from .schemas import EventIn, visitor_id_valid
from .selectors import bot_rules_active
from .sources import source_of

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CollectMeta:
    """Facts of the HTTP request that carried a batch."""

    user_agent: str = ""
    own_hosts: Collection[str] = ()


@dataclasses.dataclass(frozen=True)
class IngestResult:
    stored: int
    bots: int


@dataclasses.dataclass
class _Seen:
    first: dt.datetime
    last: dt.datetime
    is_bot: bool


def _visitors_upsert(seen: dict[str, _Seen]) -> dict[str, tuple[int | None, bool]]:
    """Insert new visitors and bump ``last_seen`` of known ones in one statement.

    ``is_bot`` only ever turns on. Returns ``{visitor_id: (contact_id, is_bot)}``.
    """
    if not seen:
        return {}
    table = connection.ops.quote_name(Visitor._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    ids = sorted(seen)  # one lock order for every request, so concurrent batches cannot deadlock
    values = ", ".join(["(%s, %s, %s, %s, NULL)"] * len(ids))
    params: list = []
    for visitor_id in ids:
        item = seen[visitor_id]
        params += [visitor_id, adapt(item.first), adapt(item.last), item.is_bot]
    sql = (
        f"INSERT INTO {table} (id, first_seen, last_seen, is_bot, contact_id) VALUES {values} "  # noqa: S608 -- only the quoted table name and placeholders
        f"ON CONFLICT (id) DO UPDATE SET "
        f"last_seen = CASE WHEN excluded.last_seen > {table}.last_seen THEN excluded.last_seen "
        f"ELSE {table}.last_seen END, "
        f"is_bot = ({table}.is_bot OR excluded.is_bot) "
        f"RETURNING id, contact_id, is_bot"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0]: (row[1], bool(row[2])) for row in cursor.fetchall()}


def events_ingest(*, events: Sequence[EventIn], meta: CollectMeta) -> IngestResult:
    """Store a validated batch: one visitor upsert and one bulk insert, in one transaction.

    Every event is flagged ``is_bot`` when the user agent matches a bot rule, when its
    visitor behaved inhumanly in this batch, or when the visitor was flagged before. Page
    views are classified into a channel and source (see :mod:`.sources`). With
    ``LEADMILL_TRACKING_REQUIRE_CONSENT`` on, events sent without consent keep no visitor id.
    An event of a visitor already identified is attached to its contact; those that are
    not bots are announced in one :class:`.events.ContactEventsIngested` per batch.
    """
    if not events:
        return IngestResult(0, 0)
    require_consent = settings.LEADMILL_TRACKING_REQUIRE_CONSENT
    visitor_ids = [event.visitor_id if (event.consent or not require_consent) else "" for event in events]
    ua_bot = bots.is_bot(meta.user_agent, bot_rules_active())
    inhuman = bots.inhuman_visitors(
        (bots.Activity(visitor_id, event.type, event.occurred_at) for visitor_id, event in zip(visitor_ids, events, strict=True)),
        max_page_views_per_second=settings.LEADMILL_TRACKING_MAX_PAGE_VIEWS_PER_SECOND,
    )
    seen: dict[str, _Seen] = {}
    for visitor_id, event in zip(visitor_ids, events, strict=True):
        if not visitor_id:
            continue
        item = seen.setdefault(visitor_id, _Seen(event.occurred_at, event.occurred_at, ua_bot or visitor_id in inhuman))
        item.first, item.last = min(item.first, event.occurred_at), max(item.last, event.occurred_at)

    with transaction.atomic(savepoint=False):  # joins the collect view's transaction
        known = _visitors_upsert(seen)
        rows = []
        for visitor_id, event in zip(visitor_ids, events, strict=True):
            contact_id, visitor_bot = known.get(visitor_id, (None, False))
            row = Event(
                occurred_at=event.occurred_at, visitor_id=visitor_id or None, contact_id=contact_id,
                type=event.type, name=event.name[:200], url=event.url[:2000], referrer=event.referrer[:2000],
                properties=dict(event.properties), is_bot=ua_bot or visitor_bot or visitor_id in inhuman,
            )
            if event.type == EventType.PAGE_VIEW:
                source, click_ids = source_of(url=event.url, referrer=event.referrer, utm=event.utm, own_hosts=meta.own_hosts)
                row.channel, row.source, row.medium = source.channel, source.source, source.medium
                row.campaign, row.term, row.content = source.campaign, source.term, source.content
                row.properties.update(click_ids)
            rows.append(row)
        Event.objects.bulk_create(rows)
        _contact_events_publish(rows)
    return IngestResult(stored=len(rows), bots=sum(1 for row in rows if row.is_bot))


def _contact_events_publish(rows: Sequence[Event]) -> None:
    """One :class:`.events.ContactEventsIngested` for the batch's events of known contacts
    that are not bots (none when there are none: anonymous traffic costs nothing more)."""
    known = [row for row in rows if row.contact_id is not None and not row.is_bot]
    if known:
        domain_events.publish(ContactEventsIngested(
            event_ids=[row.pk for row in known],
            contact_ids=sorted({row.contact_id for row in known}),
            occurred_at=timezone.now(),
        ))


def event_record(
    *,
    contact_id: int,
    type: str,
    name: str = "",
    url: str = "",
    properties: dict | None = None,
    is_bot: bool = False,
    occurred_at: dt.datetime | None = None,
) -> Event:
    """Record one server-side event of a known contact (an email open or click, ...) and
    publish :class:`.events.ContactEventRecorded` in the same transaction."""
    at = occurred_at or timezone.now()
    with transaction.atomic():
        row = Event.objects.create(
            occurred_at=at, contact_id=contact_id, type=type, name=name[:200], url=url[:2000],
            properties=properties or {}, is_bot=is_bot,
            channel="email" if type in (EventType.EMAIL_OPEN, EventType.EMAIL_CLICK) else "",
        )
        domain_events.publish(
            ContactEventRecorded(event_id=row.pk, contact_id=contact_id, type=type, is_bot=is_bot, occurred_at=at)
        )
    return row


def visitor_identify(*, visitor_id: str, contact_id: int) -> int:
    """Tie a visitor to the contact it turned out to be; returns how many of its anonymous
    events were attached to the contact (one ``UPDATE``).

    Events already attached to another contact stay with it: two people on one browser
    are never merged. The visitor follows the latest identification, so its later events
    go to ``contact_id``. An id that is not a valid visitor id (a tampered cookie) is
    ignored and returns 0, so it can never fail a form submission. Raises
    :class:`~leadmill.core.errors.NotFound` when the contact does not exist.
    """
    if not visitor_id_valid(visitor_id):
        logger.info("visitor_identify ignored an invalid visitor id for contact %s", contact_id)
        return 0
    if not Contact.objects.filter(pk=contact_id).exists():
        raise NotFound(f"Contact {contact_id} does not exist.")
    now = timezone.now()
    with transaction.atomic():
        visitor, created = Visitor.objects.get_or_create(
            id=visitor_id, defaults={"first_seen": now, "last_seen": now, "contact_id": contact_id}
        )
        changed = created or visitor.contact_id != contact_id
        if not created and changed:
            if visitor.contact_id is not None:
                logger.info("visitor %s moves from contact %s to contact %s; earlier events stay",
                            visitor_id, visitor.contact_id, contact_id)
            Visitor.objects.filter(pk=visitor_id).update(contact_id=contact_id)
        attached = Event.objects.filter(visitor_id=visitor_id, contact__isnull=True).update(contact_id=contact_id)
        if changed or attached:
            domain_events.publish(VisitorIdentified(
                visitor_id=visitor_id, contact_id=contact_id, events_attached=attached, occurred_at=now,
            ))
    return attached


def events_prune(*, older_than_days: int, batch_size: int = 5000, max_batches: int = 100) -> int:
    """Delete events older than ``older_than_days`` days, oldest first, in batches of
    ``batch_size`` rows (one short transaction each, so writers are never held up long),
    then the anonymous visitors not seen since. Returns how many events were deleted."""
    cutoff = timezone.now() - dt.timedelta(days=older_than_days)
    deleted = 0
    for _batch in range(max_batches):
        ids = list(
            Event.objects.filter(occurred_at__lt=cutoff).order_by("occurred_at").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        with transaction.atomic():
            count, _ = Event.objects.filter(pk__in=ids).delete()
        deleted += count
        if len(ids) < batch_size:
            break
    Visitor.objects.filter(contact__isnull=True, last_seen__lt=cutoff, events__isnull=True).delete()
    if deleted:
        logger.info("deleted %s tracking events older than %s days", deleted, older_than_days)
    return deleted
