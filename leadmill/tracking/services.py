"""Writes of tracking: ingesting event batches, identifying visitors, pruning old events.

The collect endpoint's promise is "validate, write once, return": a batch costs one
``INSERT`` statement (joined with the visitors' rows) in a single short transaction; the
visitors' own rows are kept up to date off the request path by :func:`visitors_sync`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Collection, Sequence

import msgspec
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leadmill.contacts.models import Contact
from leadmill.core import events as domain_events
from leadmill.core.db import rows_delete_before, sqlite_writer_turn
from leadmill.core.errors import NotFound
from leadmill.core.group_commit import GroupCommit

from . import bots
from .events import ContactEventRecorded, ContactEventsIngested, VisitorIdentified
from .models import Event, EventType, Visitor, VisitorSyncState
from .schemas import EventIn, visitor_id_valid
from .selectors import bot_rules_active
from .sources import NO_SOURCE, Source, source_of

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


_INGEST_COLUMNS = (
    "occurred_at",
    "visitor_id",
    "type",
    "name",
    "url",
    "referrer",
    "properties",
    "source",
    "medium",
    "campaign",
    "term",
    "content",
    "channel",
    "is_bot",
)


@functools.lru_cache(maxsize=64)
def _ingest_sql(vendor: str, rows: int) -> str:
    """One ``INSERT … SELECT`` of ``rows`` events joined with their visitors' rows, so a
    known visitor's contact and bot flag come with the insert.

    PostgreSQL reads the batch from ONE parameter, a JSON array of rows: psycopg parses a
    statement with more than 50 parameters anew on every call (its cache stops there), and
    for a batch of 20 events (280 parameters) that parse was a fifth of the request's
    Python time. SQLite takes a ``VALUES`` list of placeholders (SQLite and PostgreSQL both
    name its columns column1, column2, …).
    """
    if vendor == "postgresql":
        value = {name: f"x.row->>{index}" for index, name in enumerate(_INGEST_COLUMNS)}
        value["occurred_at"] = f"({value['occurred_at']})::timestamptz"
        value["properties"] = f"({value['properties']})::jsonb"
        value["is_bot"] = f"({value['is_bot']})::boolean"
        source, order = (
            "jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS x(row, position)",
            "x.position",
        )
    else:
        value = {name: f"x.column{index}" for index, name in enumerate(_INGEST_COLUMNS, start=1)}
        placeholders = ", ".join(["%s"] * len(_INGEST_COLUMNS))
        source = (
            "(VALUES "
            + ", ".join(f"({placeholders}, {position})" for position in range(rows))
            + ") AS x"
        )
        order = f"x.column{len(_INGEST_COLUMNS) + 1}"  # the batch's order, kept in the ids (a join may reorder)
    value["is_bot"] = f"({value['is_bot']} OR COALESCE(v.is_bot, FALSE))"
    return (
        "INSERT INTO tracking_event (occurred_at, visitor_id, contact_id, type, name, url, referrer, properties, "  # noqa: S608 -- only constant column names and placeholders
        "source, medium, campaign, term, content, channel, is_bot) "
        f"SELECT {value['occurred_at']}, {value['visitor_id']}, v.contact_id, "
        + ", ".join(value[name] for name in _INGEST_COLUMNS[2:])
        + f" FROM {source} "
        f"LEFT JOIN tracking_visitor AS v ON v.id = {value['visitor_id']} ORDER BY {order} "
        "RETURNING id, contact_id, is_bot"
    )


_PAGE_VIEW = str(EventType.PAGE_VIEW)


@functools.lru_cache(maxsize=4096)
def _page_source(
    url: str, referrer: str, utm: tuple[tuple[str, str], ...], own_hosts: frozenset[str]
) -> tuple[Source, dict[str, str]]:
    """:func:`.sources.source_of`, remembered: a site's visits arrive on the same few pages
    from the same campaign links and referrers, so each is classified once per process."""
    return source_of(url=url, referrer=referrer, utm=dict(utm), own_hosts=own_hosts)


def _ingest_params(vendor: str, rows: list[tuple]) -> list:
    """The parameters of :func:`_ingest_sql` for these rows (in ``_INGEST_COLUMNS`` order)."""
    if vendor == "postgresql":
        return [msgspec.json.encode(rows).decode()]  # times as RFC 3339, which ::timestamptz reads
    adapt = functools.lru_cache(maxsize=None)(
        connection.ops.adapt_datetimefield_value
    )  # a batch shares few times
    return [value for row in rows for value in (adapt(row[0]), *row[1:])]


def _bot_visitors_upsert(flagged: dict[str, tuple[dt.datetime, dt.datetime]]) -> None:
    """Insert or flag the visitors this batch showed to be bots, at once: ``is_bot`` only
    ever turns on, and a bot's next batch must find it flagged (human traffic skips this)."""
    table = connection.ops.quote_name(Visitor._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    ids = sorted(flagged)  # one lock order for every request, so concurrent batches cannot deadlock
    params: list = []
    for visitor_id in ids:
        first, last = flagged[visitor_id]
        params += [visitor_id, adapt(first), adapt(last)]
    sql = (
        f"INSERT INTO {table} (id, first_seen, last_seen, is_bot, contact_id) "  # noqa: S608 -- only the quoted table name and placeholders
        f"VALUES {', '.join(['(%s, %s, %s, TRUE, NULL)'] * len(ids))} "
        f"ON CONFLICT (id) DO UPDATE SET is_bot = TRUE"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def events_ingest(*, events: Sequence[EventIn], meta: CollectMeta) -> IngestResult:
    """Store a validated batch with one ``INSERT`` (a bot's batch: two), in one transaction,
    shared with the batches other threads of the process are storing at the same moment.

    Every event is flagged ``is_bot`` when the user agent matches a bot rule, when its
    visitor behaved inhumanly in this batch, or when the visitor was flagged before. Page
    views are classified into a channel and source (see :mod:`.sources`). With
    ``LEADMILL_TRACKING_REQUIRE_CONSENT`` on, events sent without consent keep no visitor id.
    An event of a visitor already identified is attached to its contact (the insert joins
    the visitor's row); those that are not bots are announced in one
    :class:`.events.ContactEventsIngested` per batch. Visitors' rows (first and last seen)
    are written later by :func:`visitors_sync`, except those of bots, flagged at once.
    """
    if not events:
        return IngestResult(0, 0)
    require_consent = settings.LEADMILL_TRACKING_REQUIRE_CONSENT
    visitor_ids = [
        event.visitor_id if (event.consent or not require_consent) else "" for event in events
    ]
    ua_bot = bots.is_bot(meta.user_agent, bot_rules_active())
    inhuman = (
        bots.inhuman_visitors(  # plain (visitor, type, time) tuples: the shape of bots.Activity
            zip(
                visitor_ids,
                [event.type for event in events],
                [event.occurred_at for event in events],
                strict=True,
            ),
            max_page_views_per_second=settings.LEADMILL_TRACKING_MAX_PAGE_VIEWS_PER_SECOND,
        )
    )
    own_hosts = frozenset(meta.own_hosts)
    flagged: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    rows: list[tuple] = []
    for visitor_id, event in zip(visitor_ids, events, strict=True):
        is_bot = ua_bot or visitor_id in inhuman
        if is_bot and visitor_id:
            _seen_widen(flagged, visitor_id, event.occurred_at, event.occurred_at)
        properties = event.properties_json or json.dumps(event.properties)
        source = NO_SOURCE
        if event.type == _PAGE_VIEW:
            source, click_ids = _page_source(
                event.url, event.referrer, tuple(sorted(event.utm.items())), own_hosts
            )
            if click_ids:
                properties = json.dumps({**json.loads(properties), **click_ids})
        rows.append(
            (
                event.occurred_at,
                visitor_id or None,
                event.type,
                event.name[:200],
                event.url[:2000],
                event.referrer[:2000],
                properties,
                source.source,
                source.medium,
                source.campaign,
                source.term,
                source.content,
                source.channel,
                is_bot,
            )
        )
    stored = _writer.submit(_Rows(rows, flagged))
    return IngestResult(stored=len(stored), bots=sum(1 for row in stored if row[2]))


def _seen_widen(
    seen: dict[str, tuple[dt.datetime, dt.datetime]],
    visitor_id: str,
    first: dt.datetime,
    last: dt.datetime,
) -> None:
    """Widen ``seen[visitor_id]`` (first and last seen) to take in ``first`` and ``last``."""
    was_first, was_last = seen.get(visitor_id, (first, last))
    seen[visitor_id] = (min(first, was_first), max(last, was_last))


@dataclasses.dataclass(frozen=True)
class _Rows:
    """One batch's rows (``_INGEST_COLUMNS`` order) and the bot visitors it flagged."""

    rows: list[tuple]
    flagged: dict[str, tuple[dt.datetime, dt.datetime]]


def _insert_cursor():
    """A cursor for the batch insert. On PostgreSQL it binds its parameters on the server
    (Django's cursors quote them into the statement text, here a JSON text of every row),
    so psycopg prepares the one statement after a few batches (``prepare_threshold``) and
    the server no longer parses and plans it. Django's query log, execute wrappers and
    error translation still see it."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    return (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )


def _batches_write(batches: Sequence[_Rows]) -> list[list[tuple[int, int | None, bool]]]:
    """Write the batches of concurrent requests with one ``INSERT`` (bot visitors first,
    with one more), in one transaction; returns each batch's stored ``(id, contact_id,
    is_bot)`` rows. The ids follow the rows' order, which tells whose row is whose.

    On PostgreSQL the commit does not wait for the WAL flush unless
    ``LEADMILL_TRACKING_SYNCHRONOUS_COMMIT`` is on (``SET LOCAL``: this transaction only,
    safe behind a transaction pooler), as the email sender's marks do (ADR 6): the events
    are visible at once and kept if a web process dies; only a crash of the database server
    itself can forget the last fraction of a second of them (ADR 10)."""
    rows = [row for batch in batches for row in batch.rows]
    flagged: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    for batch in batches:
        for visitor_id, (first, last) in batch.flagged.items():
            _seen_widen(flagged, visitor_id, first, last)
    # Our own transaction (not a caller's) may commit without waiting for the WAL flush.
    own_transaction = connection.vendor == "postgresql" and not connection.in_atomic_block
    quick_commit = own_transaction and not settings.LEADMILL_TRACKING_SYNCHRONOUS_COMMIT
    # One writer at a time per process on SQLite (the lock is taken before the transaction).
    with sqlite_writer_turn(), transaction.atomic(savepoint=False):  # joins a caller's transaction
        if flagged:
            _bot_visitors_upsert(flagged)
        with _insert_cursor() as cursor:
            if own_transaction:
                cursor.execute(_ingest_settings_sql(quick_commit=quick_commit))
            cursor.execute(
                _ingest_sql(connection.vendor, len(rows)), _ingest_params(connection.vendor, rows)
            )
            stored = cursor.fetchall()
        _contact_events_publish(stored)
    stored.sort()
    answers, start = [], 0
    for batch in batches:
        answers.append(stored[start : start + len(batch.rows)])
        start += len(batch.rows)
    return answers


def _ingest_settings_sql(*, quick_commit: bool) -> str:
    """The ``SET LOCAL`` statements of an ingest transaction on PostgreSQL, sent as one string: a
    write waits for a lock, and runs, at most ``LEADMILL_INGEST_TIMEOUT_MS`` (then it fails
    as unavailable, 503), so one stuck write cannot hold up every collect request."""
    timeout = int(settings.LEADMILL_INGEST_TIMEOUT_MS)
    statements = [f"SET LOCAL lock_timeout = {timeout}", f"SET LOCAL statement_timeout = {timeout}"]
    if quick_commit:
        statements.append("SET LOCAL synchronous_commit TO OFF")
    return "; ".join(statements)


# The web process's writer of event batches: concurrent requests share a statement and a
# commit (leadmill.core.group_commit). Up to 1,000 rows: 15,000 parameters on SQLite,
# within its 32,766. A request waits in its queue at most LEADMILL_INGEST_TIMEOUT_MS.
_writer: GroupCommit[_Rows, list[tuple[int, int | None, bool]]] = GroupCommit(
    _batches_write,
    max_size=1000,
    size=lambda batch: len(batch.rows),
    wait_s=lambda: settings.LEADMILL_INGEST_TIMEOUT_MS / 1000,
)


def _visitors_upsert_from_events(after_id: int, upto_id: int) -> int:
    """Insert or update the visitors of the events with ids in ``(after_id, upto_id]``: first
    and last seen widen, ``is_bot`` only turns on. One statement; returns the visitors written."""
    table = connection.ops.quote_name(Visitor._meta.db_table)
    sql = (
        f"INSERT INTO {table} (id, first_seen, last_seen, is_bot, contact_id) "  # noqa: S608 -- only the quoted table name and placeholders
        "SELECT visitor_id, MIN(occurred_at), MAX(occurred_at), MAX(CASE WHEN is_bot THEN 1 ELSE 0 END) = 1, NULL "
        "FROM tracking_event WHERE id > %s AND id <= %s AND visitor_id IS NOT NULL "
        "GROUP BY visitor_id ORDER BY visitor_id "  # one lock order, as in the bot upsert
        "ON CONFLICT (id) DO UPDATE SET "
        f"first_seen = CASE WHEN excluded.first_seen < {table}.first_seen THEN excluded.first_seen "
        f"ELSE {table}.first_seen END, "
        f"last_seen = CASE WHEN excluded.last_seen > {table}.last_seen THEN excluded.last_seen "
        f"ELSE {table}.last_seen END, "
        f"is_bot = ({table}.is_bot OR excluded.is_bot)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [after_id, upto_id])
        return cursor.rowcount


def _events_attach_to_identified(after_id: int, upto_id: int) -> list[tuple[int, int, bool]]:
    """Attach the anonymous events in ``(after_id, upto_id]`` of visitors identified since
    they were stored (a form submitted while the batch was in flight): to the visitor's
    contact, as :func:`visitor_identify` does. Returns the ``(id, contact_id, is_bot)`` rows."""
    sql = (
        "UPDATE tracking_event SET contact_id = "
        "(SELECT v.contact_id FROM tracking_visitor AS v WHERE v.id = tracking_event.visitor_id) "
        "WHERE id > %s AND id <= %s AND contact_id IS NULL AND visitor_id IN "
        "(SELECT v.id FROM tracking_visitor AS v WHERE v.contact_id IS NOT NULL) "
        "RETURNING id, contact_id, is_bot"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [after_id, upto_id])
        return cursor.fetchall()


def visitors_sync(*, chunk_size: int = 50_000, max_chunks: int = 100) -> int:
    """Keep the visitors' rows (first seen, last seen, bot flag) up to date from the events
    the collect endpoint stored, off its request path. Returns how many visitor rows it wrote.

    Each run reads the events up to the highest id the *previous* run saw: an id is
    allocated when its batch is inserted, but on PostgreSQL a batch with a lower id may
    commit after one with a higher id; a run later (a minute, the periodic task), every
    batch that had its ids then has committed. Ids are read once, in chunks of
    ``chunk_size`` ids, one short transaction each, at most ``max_chunks`` per run (the
    rest next time). Events of visitors identified while their batch was in flight are
    attached to the contact here, and announced like the collect endpoint announces them.
    """
    state, _created = VisitorSyncState.objects.get_or_create(pk=1)
    top = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    target = min(state.next_upto_event_id, state.read_upto_event_id + chunk_size * max_chunks)
    start, written = state.read_upto_event_id, 0
    while start < target:
        end = min(start + chunk_size, target)
        with transaction.atomic():
            written += _visitors_upsert_from_events(start, end)
            _contact_events_publish(_events_attach_to_identified(start, end))
            VisitorSyncState.objects.filter(pk=1).update(read_upto_event_id=end)
        start = end
    VisitorSyncState.objects.filter(pk=1).update(
        next_upto_event_id=max(top, start), synced_at=timezone.now()
    )
    return written


def _contact_events_publish(stored: Sequence[tuple[int, int | None, bool]]) -> None:
    """One :class:`.events.ContactEventsIngested` for the stored ``(id, contact_id, is_bot)``
    rows of known contacts that are not bots (none when there are none: anonymous traffic
    costs nothing more)."""
    known = sorted(
        (pk, contact_id)
        for pk, contact_id, is_bot in stored
        if contact_id is not None and not is_bot
    )
    if known:
        domain_events.publish(
            ContactEventsIngested(
                event_ids=[pk for pk, _contact_id in known],
                contact_ids=sorted({contact_id for _pk, contact_id in known}),
                occurred_at=timezone.now(),
            )
        )


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
            occurred_at=at,
            contact_id=contact_id,
            type=type,
            name=name[:200],
            url=url[:2000],
            properties=properties or {},
            is_bot=is_bot,
            channel="email" if type in (EventType.EMAIL_OPEN, EventType.EMAIL_CLICK) else "",
        )
        domain_events.publish(
            ContactEventRecorded(
                event_id=row.pk, contact_id=contact_id, type=type, is_bot=is_bot, occurred_at=at
            )
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
                logger.info(
                    "visitor %s moves from contact %s to contact %s; earlier events stay",
                    visitor_id,
                    visitor.contact_id,
                    contact_id,
                )
            Visitor.objects.filter(pk=visitor_id).update(contact_id=contact_id)
        attached = Event.objects.filter(visitor_id=visitor_id, contact__isnull=True).update(
            contact_id=contact_id
        )
        if changed or attached:
            domain_events.publish(
                VisitorIdentified(
                    visitor_id=visitor_id,
                    contact_id=contact_id,
                    events_attached=attached,
                    occurred_at=now,
                )
            )
    return attached


def events_prune(
    *,
    older_than_days: int,
    batch_size: int = 50_000,
    max_batches: int | None = None,
    keep_going: Callable[[], bool] = lambda: True,
) -> int:
    """Delete events older than ``older_than_days`` days, oldest first, in slices of about
    ``batch_size`` rows of the ``occurred_at`` index (one short transaction each,
    :func:`leadmill.core.db.rows_delete_before`), until none is left (or after
    ``max_batches`` slices, or once ``keep_going()`` turns false); then the anonymous
    visitors not seen since. Returns how many events were deleted."""
    cutoff = timezone.now() - dt.timedelta(days=older_than_days)
    deleted = rows_delete_before(
        table=Event._meta.db_table,
        column="occurred_at",
        cutoff=cutoff,
        batch_size=batch_size,
        max_batches=max_batches,
        keep_going=keep_going,
    )
    Visitor.objects.filter(contact__isnull=True, last_seen__lt=cutoff, events__isnull=True).delete()
    if deleted:
        logger.info("deleted %s tracking events older than %s days", deleted, older_than_days)
    return deleted
