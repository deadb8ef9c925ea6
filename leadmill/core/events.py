"""The domain event bus.

An event is a frozen dataclass of ids and facts (never model instances), declared in the
publishing app's ``events.py``. :func:`publish` writes it to the outbox inside the caller's
transaction (one INSERT); after commit a Huey task delivers it to each subscriber. Delivery
is at least once and per handler, so every handler must be idempotent:

- a handler that raises is retried alone, with a doubling wait
  (``LEADMILL_EVENT_RETRY_SECONDS``, at most six hours); the handlers that succeeded are
  not run again. The per-handler state (:class:`~leadmill.core.models.EventDelivery`) is
  written only when a first dispatch saw a failure, in one bulk insert;
- after ``LEADMILL_EVENT_MAX_ATTEMPTS`` a delivery is a dead letter: kept, listed in the
  admin (Settings → Dead letters) with its error, until someone retries it
  (:func:`event_deliveries_retry`);
- a periodic sweep dispatches what a crash left undelivered and the retries that are due;
- events whose every delivery succeeded are deleted after ``LEADMILL_OUTBOX_RETENTION_DAYS``
  (:func:`outbox_prune`).

A handler is known by its dotted name (``leadmill.nurture.handlers.enrol_captured_lead``):
renaming one leaves its pending deliveries to end as dead letters, and a handler subscribed
after an event's first dispatch does not receive that event. An event nobody subscribes to
when it is published is written delivered (kept for analytics until pruned), with no
delivery task: subscriptions are made at start-up, alike in every process.

Subscribe in an ``AppConfig.ready``::

    from leadmill.core import events
    events.subscribe(LeadCaptured, handlers.enrol_in_sequences)
    events.subscribe(LeadCaptured, handlers.score_captured_lead, batch=True)

A **batch handler** (``batch=True``) is called with a list of events of its type: the first
dispatch of the events one transaction published calls it once with all of them (a
processing batch of 200 leads: one call, set-based work). When that call raises, it is
called again for each event alone, so only the events it still fails on get a failed
delivery (retried alone, with backoff, as any handler's); a retry calls it with a list of
one. A batch handler must therefore be idempotent per event, as every handler is.

The delivery task also delivers, in the same task, the events its handlers published
(:func:`deliver_chain`, a few rounds), so a lead's chain (captured → scored → MQL →
assigned) costs one queue hop, not one per event.

Tests can subscribe temporarily with :func:`subscribed`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

logger = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], None]

_event_types: dict[str, type] = {}
_subscribers: dict[str, list[Handler]] = defaultdict(list)
# (event name, handler) of the handlers subscribed with batch=True.
_batch_handlers: set[tuple[str, Handler]] = set()

# How long after publishing the sweep leaves an event to the after-commit task.
SWEEP_GRACE = dt.timedelta(seconds=60)
RETRY_MAX = dt.timedelta(hours=6)
# The delivery row of an event this version cannot decode (a newer worker published it).
UNKNOWN_EVENT_TYPE = "(unknown event type)"


def event(cls: type[E]) -> type[E]:
    """Declare a domain event: a frozen dataclass registered under its class name."""
    cls = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
    _event_types[cls.__name__] = cls
    return cls


def subscribe(event_type: type, handler: Handler, *, batch: bool = False) -> None:
    """Call ``handler(event)`` after commit for every published ``event_type``; with
    ``batch``, ``handler(events)`` with a list of them (see the module's docstring)."""
    handlers = _subscribers[event_type.__name__]
    if handler not in handlers:
        handlers.append(handler)
    if batch:
        _batch_handlers.add((event_type.__name__, handler))


def unsubscribe(event_type: type, handler: Handler) -> None:
    handlers = _subscribers[event_type.__name__]
    if handler in handlers:
        handlers.remove(handler)
    _batch_handlers.discard((event_type.__name__, handler))


@contextmanager
def subscribed(event_type: type, handler: Handler, *, batch: bool = False) -> Iterator[None]:
    """Subscribe for the length of a ``with`` block (for tests)."""
    subscribe(event_type, handler, batch=batch)
    try:
        yield
    finally:
        unsubscribe(event_type, handler)


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"__dt__": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "__dt__" in value:
        return dt.datetime.fromisoformat(value["__dt__"])
    return value


def _outbox_values(evt: Any, *, now: dt.datetime) -> tuple[str, dict, dt.datetime | None]:
    """The name, payload and first due time of ``evt``'s outbox row; no due time for an
    event nobody subscribes to (it is written delivered)."""
    name = type(evt).__name__
    if name not in _event_types:
        raise TypeError(f"{name} is not a declared event; decorate it with @events.event")
    payload = {f.name: _encode(getattr(evt, f.name)) for f in dataclasses.fields(evt)}
    if not _subscribers.get(name):
        return name, payload, None
    # Left for a claim (left_for_claim): due at once; else the after-commit task's grace.
    due = now if getattr(_local, "left_for_claim", False) else now + SWEEP_GRACE
    return name, payload, due


# Rows per INSERT: on SQLite 5 parameters each, well under its 32,766.
OUTBOX_INSERT_ROWS = 1000


def _outbox_insert(evts: list[Any]) -> tuple[list[int], list[int]]:
    """Write the outbox rows of ``evts`` with one hand-written ``INSERT … RETURNING id`` per
    :data:`OUTBOX_INSERT_ROWS`; returns their ids, in order, and the ids of those to deliver.

    The rows ``OutboxEvent.objects.bulk_create`` writes, at a fraction of its CPU: every
    lead publishes about a dozen facts, and building a model instance per fact and preparing
    its fields one by one was a tenth of the worker's time per lead (ADR 63). On PostgreSQL
    the rows come as one JSON document (``INSERT … SELECT … FROM jsonb_to_recordset(%s)``):
    one parameter, serialised in C, and a statement whose text does not depend on the
    number of rows. psycopg parses a statement of more than 50 placeholders again on every
    call (47 µs a row as a ``VALUES`` list) and escapes text arrays element by element
    (12 µs a row through ``unnest``); the document costs under 4. An event nobody
    subscribes to (half of a lead's facts, kept for analytics and for subscribers to come)
    is written delivered: no delivery task, no second write.
    ``core/tests/test_events_insert.py`` fails when the model gains a column this
    statement does not write.
    """
    from django.db import connection

    from .models import OutboxEvent

    ops = connection.ops
    now = timezone.now()
    table = ops.quote_name(OutboxEvent._meta.db_table)
    columns = "name, payload, created_at, next_attempt_at, delivered_at, attempts, last_error"
    postgres = connection.vendor == "postgresql"
    ids: list[int] = []
    wanted: list[int] = []
    for start in range(0, len(evts), OUTBOX_INSERT_ROWS):
        rows = [_outbox_values(evt, now=now) for evt in evts[start : start + OUTBOX_INSERT_ROWS]]
        if postgres:
            sql = (
                f"INSERT INTO {table} ({columns}) "  # noqa: S608 -- quoted name, placeholders only
                "SELECT r.name, r.payload, %s, r.due, "
                "CASE WHEN r.due IS NULL THEN %s END, 0, '' "
                "FROM jsonb_to_recordset(%s::jsonb) "
                "AS r (name varchar, payload jsonb, due timestamptz) RETURNING id"
            )
            document = [
                {"name": name, "payload": payload, "due": due and due.isoformat()}
                for name, payload, due in rows
            ]
            params = [now, now, json.dumps(document)]
        else:
            created = ops.adapt_datetimefield_value(now)
            sql = (
                f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608 -- as above
                + ", ".join(["(%s, %s, %s, %s, %s, 0, '')"] * len(rows))
                + " RETURNING id"
            )
            params = [
                value
                for name, payload, due in rows
                for value in (
                    name,
                    json.dumps(payload),
                    created,
                    ops.adapt_datetimefield_value(due),
                    created if due is None else None,  # nobody subscribes: delivered
                )
            ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            written = [row[0] for row in cursor.fetchall()]
        # PostgreSQL returns the rows in the order it inserted them, the document's order;
        # SQLite in any order, but assigns its rowids in VALUES order.
        written = written if postgres else sorted(written)
        ids += written
        wanted += [
            outbox_id
            for outbox_id, (_name, _payload, due) in zip(written, rows, strict=True)
            if due is not None
        ]
    return ids, wanted


def publish(evt: Any) -> int:
    """Write ``evt`` to the outbox in the current transaction; deliver it after commit.

    Returns the outbox row id. Nothing is delivered if the transaction rolls back. One
    INSERT: the per-handler rows are written later, and only if a handler fails.
    """
    (outbox_id,), wanted = _outbox_insert([evt])
    _after_commit_deliver(wanted)
    return outbox_id


def publish_many(evts: list[Any]) -> list[int]:
    """:func:`publish` for many events in one INSERT (a batch that ends or starts many
    enrollments). Returns the outbox row ids, in order."""
    if not evts:
        return []
    ids, wanted = _outbox_insert(evts)
    _after_commit_deliver(wanted)
    return ids


_local = threading.local()


def _after_commit_deliver(ids: list[int]) -> None:
    if not ids or getattr(_local, "left_for_claim", False):
        return  # written due at once: a claim (outbox_due_claim) or the sweep delivers them
    _pending_ids().extend(ids)
    transaction.on_commit(_schedule_pending)


@contextmanager
def left_for_claim() -> Iterator[None]:
    """Publish the block's events without queueing their delivery: they are written due at
    once, for the next :func:`outbox_due_claim` (a worker loop that delivers them with its
    own, in one chain) or, if none runs, the periodic sweep. For a web request that
    publishes many small sets of events (an API lead each) and nudges such a loop: the
    worker then delivers them in batches, not one queued task per request."""
    previous = getattr(_local, "left_for_claim", False)
    _local.left_for_claim = True
    try:
        yield
    finally:
        _local.left_for_claim = previous


def outbox_due_claim(*, limit: int = 500, now: dt.datetime | None = None) -> list[int]:
    """Take up to ``limit`` events due for their first dispatch (those published
    :func:`left_for_claim`, and any whose after-commit task was lost), oldest due first, and
    push their sweep time a grace period away, so the sweep and another claim leave them to
    the caller; returns their ids, for :func:`deliver_chain` (or inside
    :func:`delivered_here`, :func:`deliver_claimed`). Concurrent claims skip each other's
    rows where the database can (``SKIP LOCKED``). Retries of failed deliveries are the
    sweep's."""
    from .models import OutboxEvent

    now = now or timezone.now()
    with transaction.atomic():
        due = OutboxEvent.objects.filter(next_attempt_at__lte=now, attempts=0).order_by(
            "next_attempt_at", "pk"
        )
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if ids:
            OutboxEvent.objects.filter(pk__in=ids).update(next_attempt_at=now + SWEEP_GRACE)
    return ids


def deliver_claimed(ids: list[int]) -> None:
    """Deliver claimed events (:func:`outbox_due_claim`) with what the current
    :func:`delivered_here` block delivers, in its chain; outside one, in a chain now."""
    if not ids:
        return
    collected = getattr(_local, "collected", None)
    if collected is not None:
        collected.extend(ids)
    else:
        deliver_chain(sorted(ids))


def _pending_ids() -> list[int]:
    if not hasattr(_local, "ids"):
        _local.ids = []
    return _local.ids


def _schedule_pending() -> None:
    """Queue one delivery task for the events a committed transaction published (inside
    :func:`deliver_chain`: keep them for its next round instead).

    Each publish registers this callback; the first to run after a commit takes every
    pending id, the others find none. An id left behind by a rolled-back transaction is
    harmless: its row does not exist (deliver skips it) or, where SQLite reused the id, is
    the committed row itself, listed once.
    """
    ids, _local.ids = sorted(set(_pending_ids())), []
    if not ids:
        return
    collected = getattr(_local, "collected", None)
    if collected is not None:
        collected.extend(ids)
        return
    _queue_delivery(ids)


def _queue_delivery(ids: list[int]) -> None:
    from .tasks import outbox_deliver

    try:
        outbox_deliver(ids)
    except Exception:  # the queue is down: the periodic sweep delivers them later
        logger.exception("could not queue delivery of outbox events %s", ids)


def retry_delay(*, attempts: int) -> dt.timedelta:
    """The wait after a delivery's ``attempts``-th failure: the base, doubled each time,
    at most six hours."""
    base = dt.timedelta(seconds=settings.LEADMILL_EVENT_RETRY_SECONDS)
    return min(base * 2 ** max(attempts - 1, 0), RETRY_MAX)


def handler_name(handler: Handler) -> str:
    """The dotted name a delivery row knows a handler by."""
    qualname = getattr(handler, "__qualname__", type(handler).__qualname__)
    return f"{getattr(handler, '__module__', type(handler).__module__)}.{qualname}"


def _handlers_of(name: str) -> dict[str, Handler]:
    """The subscribers of event ``name`` by delivery name; two instances of one callable
    class get ``#2``, ``#3`` … in subscription order."""
    named: dict[str, Handler] = {}
    for handler in _subscribers[name]:
        key = base = handler_name(handler)
        n = 1
        while key in named:
            n += 1
            key = f"{base}#{n}"
        named[key] = handler
    return named


class UnknownEventType(LookupError):
    pass


def _is_batch(event_name: str, handler: Handler) -> bool:
    return (event_name, handler) in _batch_handlers


def _run(handler: Handler, evt: Any, *, outbox_id: int, name: str, batch: bool = False) -> str:
    """Call one handler (a batch handler with a list of one); return "" or the error it
    raised (logged with its traceback)."""
    try:
        handler([evt] if batch else evt)
    except Exception as exc:
        logger.exception("handler %s failed on outbox event %s", name, outbox_id)
        return f"{type(exc).__name__}: {exc}"[:4000] or type(exc).__name__
    return ""


def deliver(outbox_id: int, *, now: dt.datetime | None = None) -> bool:
    """Dispatch one outbox event: run the deliveries that are due; mark the event delivered
    when every one succeeded.

    A first dispatch runs every subscriber and, if all succeed, writes one UPDATE. When one
    fails, a delivery row per subscriber is written in one bulk insert (the ones that
    succeeded as delivered) and the failing ones wait for their retry. Later dispatches run
    only the pending deliveries that are due. Returns True when the event is (now or
    already) delivered.
    """
    from .models import EventDelivery, OutboxEvent

    row = OutboxEvent.objects.filter(pk=outbox_id, delivered_at__isnull=True).first()
    if row is None:
        return True
    now = now or timezone.now()
    event_type = _event_types.get(row.name)
    if event_type is None:
        evt, handlers = None, {UNKNOWN_EVENT_TYPE: _unknown_type_raiser(row.name)}
    else:
        evt = event_type(**{key: _decode(value) for key, value in row.payload.items()})
        handlers = _handlers_of(row.name)

    deliveries = {} if row.attempts == 0 else {d.handler: d for d in row.deliveries.all()}
    if event_type is not None and set(deliveries) == {UNKNOWN_EVENT_TYPE}:
        # This version knows the type an older one could not decode: a first dispatch.
        EventDelivery.objects.filter(event=row, handler=UNKNOWN_EVENT_TYPE).delete()
        deliveries = {}

    if not deliveries:
        errors = {
            name: _run(
                handler, evt, outbox_id=row.pk, name=name, batch=_is_batch(row.name, handler)
            )
            for name, handler in handlers.items()
        }
        return _first_dispatch_settle(row, errors=errors, now=now)

    errors = []
    for delivery in deliveries.values():
        due = delivery.next_attempt_at is None or delivery.next_attempt_at <= now
        if delivery.state != EventDelivery.State.PENDING or not due:
            continue
        handler = handlers.get(delivery.handler)
        if handler is None:
            error = f"{delivery.handler} is no longer subscribed to {row.name}"
            logger.error("outbox event %s: %s", row.pk, error)
        else:
            error = _run(
                handler,
                evt,
                outbox_id=row.pk,
                name=delivery.handler,
                batch=_is_batch(row.name, handler),
            )
        _delivery_record(delivery, error=error, now=now)
        if error:
            errors.append(f"{delivery.handler}: {error}")
    delivered = all(d.state == EventDelivery.State.DELIVERED for d in deliveries.values())
    _event_settle(
        row,
        now=now,
        delivered=delivered,
        errors=errors,
        next_attempt_at=_earliest_retry(deliveries.values()),
    )
    return delivered


def _first_dispatch_settle(row, *, errors: dict[str, str], now: dt.datetime) -> bool:
    """Record a first dispatch of one event: delivered when no handler failed, else a
    delivery row per handler (the failing ones wait for their retry). True when delivered."""
    from .models import EventDelivery

    if not any(errors.values()):
        _event_settle(row, now=now, delivered=True, errors=[])
        return True
    EventDelivery.objects.bulk_create(
        [_delivery_first(row, name=name, error=error, now=now) for name, error in errors.items()],
        ignore_conflicts=True,  # a concurrent first dispatch wrote them: same outcome
    )
    _event_settle(
        row, now=now, delivered=False, errors=[f"{n}: {e}" for n, e in errors.items() if e]
    )
    return False


def deliver_many(outbox_ids: list[int]) -> int:
    """Dispatch the events one transaction published. Returns how many are delivered.

    Those nobody subscribes to are marked delivered in one UPDATE (a bulk enrolment
    publishes thousands no handler wants yet). The others, on their first dispatch, are
    grouped by type (in the order of each type's first event): a per-event handler is
    called for each event of the group, a batch handler once with the whole group (and,
    when that call raises, once per event, so only the events it fails on become
    retries). The events every handler took are marked delivered in one UPDATE; the
    others get their delivery rows as in :func:`deliver`. Events past their first dispatch
    (or of a type this version does not know) go through :func:`deliver` one by one.
    """
    from .models import OutboxEvent

    # Tuples, not model instances: a dozen facts per lead pass here (ADR 63).
    rows = [
        _Row(*values)
        for values in OutboxEvent.objects.filter(
            pk__in=outbox_ids, delivered_at__isnull=True, attempts=0
        )
        .order_by("pk")
        .values_list("pk", "name", "payload")
    ]
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        if row.name in _event_types:
            groups.setdefault(row.name, []).append(row)
    unheard = [name for name in groups if not _subscribers[name]]
    done = 0
    if unheard:
        done = OutboxEvent.objects.filter(
            pk__in=[row.pk for name in unheard for row in groups.pop(name)],
            delivered_at__isnull=True,
        ).update(delivered_at=timezone.now(), next_attempt_at=None, attempts=F("attempts") + 1)
    for name, group in groups.items():
        done += _group_dispatch(name, group)
    dispatched = {row.pk for row in rows if row.name in _event_types}
    return done + sum(
        1 for outbox_id in outbox_ids if outbox_id not in dispatched and deliver(outbox_id)
    )


class _Row(NamedTuple):
    """What a first dispatch reads of an outbox row."""

    pk: int
    name: str
    payload: dict


def _group_dispatch(name: str, rows: list[_Row]) -> int:
    """The first dispatch of ``rows``, events of type ``name``; returns how many were
    delivered (every handler took them)."""
    from .models import OutboxEvent

    event_type = _event_types[name]
    evts = [
        event_type(**{key: _decode(value) for key, value in row.payload.items()}) for row in rows
    ]
    errors: dict[int, dict[str, str]] = {row.pk: {} for row in rows}
    for handler_key, handler in _handlers_of(name).items():
        batch = _is_batch(name, handler)
        if batch:
            try:
                handler(list(evts))
            except Exception:
                logger.exception(
                    "batch handler %s failed on %s outbox events %s…; calling it per event",
                    handler_key,
                    len(rows),
                    rows[0].pk,
                )
            else:
                for row in rows:
                    errors[row.pk][handler_key] = ""
                continue
        for row, evt in zip(rows, evts, strict=True):
            errors[row.pk][handler_key] = _run(
                handler, evt, outbox_id=row.pk, name=handler_key, batch=batch
            )
    now = timezone.now()
    taken = [row.pk for row in rows if not any(errors[row.pk].values())]
    delivered = 0
    if taken:
        delivered = OutboxEvent.objects.filter(pk__in=taken, delivered_at__isnull=True).update(
            delivered_at=now, next_attempt_at=None, attempts=F("attempts") + 1, last_error=""
        )
    for row in rows:
        if row.pk not in taken:
            outbox_row = OutboxEvent(pk=row.pk, name=row.name, payload=row.payload)
            _first_dispatch_settle(outbox_row, errors=errors[row.pk], now=now)
    return delivered


# How many rounds of events published by handlers :func:`deliver_chain` delivers itself.
CHAIN_ROUNDS = 6


def deliver_chain(outbox_ids: list[int], *, rounds: int | None = None) -> int:
    """:func:`deliver_many`, then, in the same call, the events its handlers published (a
    lead captured → its score → its stage → its owner), for up to ``rounds`` rounds in
    all; what the last round published is queued as usual. Each round is a first
    dispatch with the guarantees of :func:`deliver_many`. Returns how many were delivered.
    """
    rounds = rounds or CHAIN_ROUNDS
    previous = getattr(_local, "collected", None)
    _local.collected = collected = []
    try:
        done = deliver_many(outbox_ids)
        for _ in range(rounds - 1):
            ids = sorted(set(collected))
            collected.clear()
            if not ids:
                break
            done += deliver_many(ids)
    finally:
        _local.collected = previous
        left = sorted(set(collected))
    if left:
        if previous is not None:
            previous.extend(left)
        else:
            _queue_delivery(left)
    return done


@contextmanager
def delivered_here() -> Iterator[None]:
    """Deliver the events the block's transactions publish at the end of the block, in
    this thread (:func:`deliver_chain`), rather than queueing a delivery task: a worker
    task that publishes (the submission drain) hands its events on without a queue hop.
    When the block raises, what it committed is queued as usual."""
    previous = getattr(_local, "collected", None)
    _local.collected = collected = []
    try:
        yield
    except BaseException:
        _local.collected = previous
        if collected:
            _queue_delivery(sorted(set(collected)))
        raise
    _local.collected = previous
    if collected:
        deliver_chain(sorted(set(collected)))


def _unknown_type_raiser(name: str) -> Handler:
    def raiser(_evt: Any) -> None:
        raise UnknownEventType(f"this version declares no event {name}")

    return raiser


def _delivery_first(row, *, name: str, error: str, now: dt.datetime):
    from .models import EventDelivery

    if not error:
        return EventDelivery(
            event=row,
            handler=name,
            state=EventDelivery.State.DELIVERED,
            attempts=1,
            delivered_at=now,
        )
    delivery = EventDelivery(event=row, handler=name)
    _delivery_failed(delivery, error=error, now=now)
    return delivery


def _delivery_failed(delivery, *, error: str, now: dt.datetime) -> None:
    from .models import EventDelivery

    delivery.attempts += 1
    delivery.last_error = error
    if delivery.attempts >= settings.LEADMILL_EVENT_MAX_ATTEMPTS:
        delivery.state, delivery.next_attempt_at = EventDelivery.State.DEAD, None
        logger.error(
            "outbox event %s: delivery to %s is a dead letter after %s attempts",
            delivery.event_id,
            delivery.handler,
            delivery.attempts,
        )
    else:
        delivery.state = EventDelivery.State.PENDING
        delivery.next_attempt_at = now + retry_delay(attempts=delivery.attempts)


def _delivery_record(delivery, *, error: str, now: dt.datetime) -> None:
    from .models import EventDelivery

    if error:
        _delivery_failed(delivery, error=error, now=now)
    else:
        delivery.attempts += 1
        delivery.state, delivery.next_attempt_at, delivery.delivered_at = (
            EventDelivery.State.DELIVERED,
            None,
            now,
        )
        delivery.last_error = ""
    EventDelivery.objects.filter(pk=delivery.pk).update(
        attempts=delivery.attempts,
        state=delivery.state,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
        last_error=delivery.last_error,
    )


def _earliest_retry(deliveries) -> dt.datetime | None:
    due = [
        d.next_attempt_at
        for d in deliveries
        if d.state == "pending" and d.next_attempt_at is not None
    ]
    return min(due, default=None)


def _event_settle(
    row,
    *,
    now: dt.datetime,
    delivered: bool,
    errors: list[str],
    next_attempt_at: dt.datetime | None = None,
) -> None:
    from .models import EventDelivery, OutboxEvent

    if not delivered and next_attempt_at is None:
        next_attempt_at = _earliest_retry(EventDelivery.objects.filter(event=row))
    OutboxEvent.objects.filter(pk=row.pk).update(
        delivered_at=now if delivered else None,
        next_attempt_at=None if delivered else next_attempt_at,
        attempts=F("attempts") + 1,
        last_error="\n".join(errors)[:4000],
    )


def sweep(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Dispatch the events whose next attempt is due: those a crash left undelivered (a
    minute after publishing) and the retries of failed deliveries. Returns how many events
    are now delivered."""
    from .models import OutboxEvent

    now = now or timezone.now()
    ids = list(
        OutboxEvent.objects.filter(next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for outbox_id in ids if deliver(outbox_id, now=now))


def event_deliveries_retry(*, delivery_ids: list[int]) -> int:
    """Requeue dead letters: each becomes pending and due now, and its event is dispatched
    after commit (only the requeued deliveries run). A delivery that fails again is a dead
    letter again at once; its attempts keep counting. Returns how many were requeued."""
    from .models import EventDelivery, OutboxEvent

    now = timezone.now()
    with transaction.atomic():
        dead = EventDelivery.objects.filter(pk__in=delivery_ids, state=EventDelivery.State.DEAD)
        event_ids = sorted(set(dead.values_list("event_id", flat=True)))
        requeued = dead.update(state=EventDelivery.State.PENDING, next_attempt_at=now)
        OutboxEvent.objects.filter(pk__in=event_ids).update(next_attempt_at=now)
        if event_ids:
            transaction.on_commit(lambda: _queue_delivery(event_ids))
    if requeued:
        logger.info("requeued %s dead event deliveries of outbox events %s", requeued, event_ids)
    return requeued


def outbox_prune(
    *, older_than_days: int, batch_size: int = 50_000, keep_going: Callable[[], bool] = lambda: True
) -> int:
    """Delete outbox events delivered (every delivery succeeded) more than
    ``older_than_days`` days ago, with their delivery rows, in slices of the
    ``delivered_at`` index, until none is left or ``keep_going()`` turns false. Undelivered
    events and dead letters are never deleted. Returns how many events went."""
    from .db import rows_delete_before
    from .models import EventDelivery, OutboxEvent

    cutoff = timezone.now() - dt.timedelta(days=older_than_days)
    # Few: only events that needed a retry have delivery rows.
    EventDelivery.objects.filter(event__delivered_at__lt=cutoff).delete()
    deleted = rows_delete_before(
        table=OutboxEvent._meta.db_table,
        column="delivered_at",
        cutoff=cutoff,
        batch_size=batch_size,
        keep_going=keep_going,
    )
    if deleted:
        logger.info(
            "deleted %s delivered outbox events older than %s days", deleted, older_than_days
        )
    return deleted
