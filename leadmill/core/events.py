"""The domain event bus.

An event is a frozen dataclass of ids and facts (never model instances), declared in the
publishing app's ``events.py``. :func:`publish` writes it to the outbox inside the caller's
transaction; after commit a Huey task delivers it to each subscriber. A periodic sweep
re-delivers what a crash left undelivered, so delivery is at least once and every handler
must be idempotent.

Subscribe in an ``AppConfig.ready``::

    from leadmill.core import events
    events.subscribe(LeadCaptured, handlers.enrol_in_sequences)

Tests can subscribe temporarily with :func:`subscribed`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], None]

_event_types: dict[str, type] = {}
_subscribers: dict[str, list[Handler]] = defaultdict(list)


def event(cls: type[E]) -> type[E]:
    """Declare a domain event: a frozen dataclass registered under its class name."""
    cls = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
    _event_types[cls.__name__] = cls
    return cls


def subscribe(event_type: type, handler: Handler) -> None:
    """Call ``handler(event)`` after commit for every published ``event_type``."""
    handlers = _subscribers[event_type.__name__]
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(event_type: type, handler: Handler) -> None:
    handlers = _subscribers[event_type.__name__]
    if handler in handlers:
        handlers.remove(handler)


@contextmanager
def subscribed(event_type: type, handler: Handler) -> Iterator[None]:
    """Subscribe for the length of a ``with`` block (for tests)."""
    subscribe(event_type, handler)
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


def publish(evt: Any) -> int:
    """Write ``evt`` to the outbox in the current transaction; deliver it after commit.

    Returns the outbox row id. Nothing is delivered if the transaction rolls back.
    """
    from .models import OutboxEvent

    name = type(evt).__name__
    if name not in _event_types:
        raise TypeError(f"{name} is not a declared event; decorate it with @events.event")
    payload = {f.name: _encode(getattr(evt, f.name)) for f in dataclasses.fields(evt)}
    row = OutboxEvent.objects.create(name=name, payload=payload)
    _pending_ids().append(row.pk)
    transaction.on_commit(_schedule_pending)
    return row.pk


_local = threading.local()


def _pending_ids() -> list[int]:
    if not hasattr(_local, "ids"):
        _local.ids = []
    return _local.ids


def _schedule_pending() -> None:
    """Queue one delivery task for the events a committed transaction published.

    Each publish registers this callback; the first to run after a commit takes every
    pending id, the others find none. An id left behind by a rolled-back transaction is
    harmless: its row does not exist (deliver skips it) or, where SQLite reused the id, is
    the committed row itself, listed once.
    """
    ids, _local.ids = sorted(set(_pending_ids())), []
    if not ids:
        return
    from .tasks import outbox_deliver

    try:
        outbox_deliver(ids)
    except Exception:  # the queue is down: the periodic sweep delivers them later
        logger.exception("could not queue delivery of outbox events %s", ids)


def deliver(outbox_id: int) -> bool:
    """Run every subscriber of one outbox event; mark it delivered when all succeeded.

    Returns True when the event is (now or already) delivered.
    """
    from .models import OutboxEvent

    row = OutboxEvent.objects.filter(pk=outbox_id, delivered_at__isnull=True).first()
    if row is None:
        return True
    event_type = _event_types.get(row.name)
    if event_type is None:
        logger.error("outbox event %s has unknown type %s", row.pk, row.name)
        return False
    evt = event_type(**{key: _decode(value) for key, value in row.payload.items()})
    errors = []
    for handler in list(_subscribers[row.name]):
        try:
            handler(evt)
        except Exception as exc:
            name = _handler_name(handler)
            logger.exception("handler %s failed on outbox event %s", name, row.pk)
            errors.append(f"{name}: {exc!r}")
    if errors:
        OutboxEvent.objects.filter(pk=row.pk).update(
            attempts=row.attempts + 1, last_error="\n".join(errors)[:4000]
        )
        return False
    OutboxEvent.objects.filter(pk=row.pk).update(
        delivered_at=timezone.now(), attempts=row.attempts + 1, last_error=""
    )
    return True


def _handler_name(handler: Handler) -> str:
    qualname = getattr(handler, "__qualname__", type(handler).__qualname__)
    return f"{getattr(handler, '__module__', '?')}.{qualname}"


def sweep(*, older_than: dt.timedelta = dt.timedelta(seconds=60), limit: int = 500) -> int:
    """Re-deliver events a crash left undelivered. Returns how many were delivered."""
    from .models import OutboxEvent

    cutoff = timezone.now() - older_than
    ids = list(
        OutboxEvent.objects.filter(delivered_at__isnull=True, created_at__lt=cutoff, attempts__lt=20)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for outbox_id in ids if deliver(outbox_id))


def outbox_prune(*, older_than_days: int, batch_size: int = 50_000,
                 keep_going: Callable[[], bool] = lambda: True) -> int:
    """Delete outbox rows delivered more than ``older_than_days`` days ago, in slices of the
    ``delivered_at`` index, until none is left or ``keep_going()`` turns false. Undelivered
    rows are never deleted. Returns how many rows went."""
    from .db import rows_delete_before
    from .models import OutboxEvent

    cutoff = timezone.now() - dt.timedelta(days=older_than_days)
    deleted = rows_delete_before(table=OutboxEvent._meta.db_table, column="delivered_at", cutoff=cutoff,
                                 batch_size=batch_size, keep_going=keep_going)
    if deleted:
        logger.info("deleted %s delivered outbox events older than %s days", deleted, older_than_days)
    return deleted
