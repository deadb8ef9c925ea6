"""Database helpers: the public hot paths' writer turns (form posts, tracking batches), the
sliced deletes of retention, the commits that need not wait for the WAL flush, the wait for
the transactions writing to tables (high-water marks), and the planner statistics of our own
tables (PostgreSQL)."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from django.apps import apps
from django.db import OperationalError, connection, models, transaction

M = TypeVar("M", bound=models.Model)

logger = logging.getLogger(__name__)

# A WHERE condition, always true, that makes the statement's own commit not wait for the WAL
# flush on PostgreSQL: ``set_config(…, true)`` is ``SET LOCAL synchronous_commit``, for this
# statement's transaction only, so it is safe behind a transaction pooler. The row is visible
# at once and kept if our process dies; only a crash of the database server itself may forget
# the last few hundred milliseconds of such commits. For writes whose loss that crash would
# make harmless (a rate counter, an email's sent mark behind its Message-ID).
NO_FLUSH_WAIT = "set_config('synchronous_commit', 'off', true) = 'off'"


def no_flush_wait_applies(db_connection=connection) -> bool:
    """Whether a statement sent now may carry :data:`NO_FLUSH_WAIT`: on PostgreSQL, in
    autocommit (inside a caller's transaction it would change that whole transaction's
    commit)."""
    return db_connection.vendor == "postgresql" and db_connection.get_autocommit()


def instances_where(model: type[M], where: str, params: Sequence) -> list[M]:
    """The rows of ``model`` matching ``where`` (SQL with ``%s`` placeholders, naming the
    table's columns), as instances, read by one plain SELECT of every column of the model.

    For a hot path's lookup by a unique column: Django compiles a QuerySet's SQL anew on
    every evaluation, which costs about 0.6 ms of CPU here for a one-row lookup, four times
    the read itself (measured on the API key check of every API request). The columns come
    from the model and ``Manager.raw`` applies each field's conversion from the database, so
    a model change cannot leave this read behind."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in model._meta.concrete_fields)
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {where}"  # noqa: S608 -- quoted names; the caller's condition has placeholders
    return list(model._default_manager.raw(sql, params))


# Field types whose Python value is what the database stores, as JSON carries it (strings,
# numbers, booleans, keys); a datetime or date goes as its ISO text. Any other field type
# is prepared by Django (``get_db_prep_save``) first.
_PLAIN_FIELDS = (
    models.CharField,  # EmailField, SlugField, URLField …
    models.TextField,
    models.IntegerField,  # the big, small and positive ones, AutoField
    models.BooleanField,
    models.FloatField,
    models.ForeignKey,
    models.DateTimeField,
    models.DateField,
    models.JSONField,
)
_insert_plans: dict[tuple[str, type[models.Model]], tuple[list, str]] = {}


def instances_insert(objs: list[M]) -> list[M]:
    """Insert ``objs`` (new instances of one model) as ``bulk_create(objs)`` does, with their
    primary keys set, at a fraction of its CPU on PostgreSQL; elsewhere it is
    ``bulk_create``.

    ``bulk_create`` prepares each field of each row through several calls and psycopg then
    escapes each column as an array, element by element: about 0.25 ms of CPU per row here,
    for the rows every lead writes (its submission, contact, stage change, consents,
    enrolment). This sends the rows as one JSON document, serialised in C, and inserts them
    with ``INSERT … SELECT … FROM jsonb_to_recordset`` (ADR 63 did the same for the outbox),
    every column of the model, typed as the model types it, so a model change cannot leave
    this statement behind. Each value goes through its field's ``pre_save`` as in Django
    (``auto_now_add``).
    No signals, as ``bulk_create``. The rows come back in the document's order."""
    if not objs:
        return objs
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_create(objs)
    fields, sql = _insert_plan(model)
    document = []
    for obj in objs:
        row = {}
        for field, plain in fields:
            value = field.pre_save(obj, add=True)
            if not plain or (isinstance(value, dt.datetime) and value.tzinfo is None):
                value = field.get_db_prep_save(value, connection)  # a naive one: made aware
            if isinstance(value, dt.date):  # datetimes too
                value = value.isoformat()
            row[field.column] = value
        document.append(row)
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(document, default=str)])
        keys = [row[0] for row in cursor.fetchall()]
    for obj, key in zip(objs, keys, strict=True):
        obj.pk = key
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def _insert_plan(model: type[models.Model]) -> tuple[list, str]:
    """The fields :func:`instances_insert` writes (with whether each is plain) and its SQL."""
    plan = _insert_plans.get((connection.alias, model))
    if plan is None:
        quote = connection.ops.quote_name
        fields = [
            field
            for field in model._meta.concrete_fields
            if not (field.primary_key and isinstance(field, models.AutoField))
        ]
        names = ", ".join(quote(field.column) for field in fields)
        typed = ", ".join(f"{quote(field.column)} {field.db_type(connection)}" for field in fields)
        sql = (
            f"INSERT INTO {quote(model._meta.db_table)} ({names}) SELECT {names} "  # noqa: S608 -- quoted names, one bound document
            f"FROM jsonb_to_recordset(%s::jsonb) AS r ({typed}) "
            f"RETURNING {quote(model._meta.pk.column)}"
        )
        plan = [(field, isinstance(field, _PLAIN_FIELDS)) for field in fields], sql
        _insert_plans[(connection.alias, model)] = plan
    return plan


class AnyOf(models.Lookup):
    """``field__any=ids``: the field's value is one of ``ids`` (a list), sent as ONE
    parameter: ``= ANY(%s)`` with an array on PostgreSQL, ``IN`` the elements of a JSON
    array on SQLite.

    ``field__in=ids`` sends one parameter per element, and Django prepares each one and
    psycopg parses the statement's text anew (it caches only short statements): about 3 ms
    of CPU per 2,000 ids, for the analytics fill's reads of a day's thousands of leads
    (ADR 74). Registered on every field and relation (``CoreConfig.ready``); the elements
    are sent as they are (ids, strings), not prepared by the field."""

    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        in_json = f"{lhs} IN (SELECT value FROM json_each(%s))"  # noqa: S608 -- a column, one bound array
        return in_json, [*lhs_params, json.dumps(values)]


_sqlite_write_lock = threading.Lock()
_lock_files: dict[tuple[int, str], int] = {}  # (process id, database file) -> open lock file


@contextlib.contextmanager
def sqlite_writer_turn() -> Iterator[None]:
    """On SQLite, the web's writers take turns on locks of ours: the threads of a process on
    a Python lock, the processes on a file lock beside the database file.

    SQLite lets one writer at a time into the file; a writer that finds it taken sleeps in
    its busy handler (1, 2, 5, 10 ms …) before trying again, which leaves the CPU idle long
    after the write that held the file has committed. Queued on our locks, the next writer
    starts the moment the previous write ends (measured on form posts, threads: 512 and
    555 posts/s against 398; see docs/adr/0009-lean-form-post-path.md for the processes).
    Take it around a whole short write (a statement in autocommit, or a transaction,
    entered inside it); other writers (the worker) still meet SQLite's own locking. Inside
    an open transaction, and on PostgreSQL, it does nothing.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with _sqlite_write_lock:
        lock_file = _lock_file(connection.settings_dict["NAME"])
        if lock_file is None:
            yield
            return
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _lock_file(database: object) -> int | None:
    """This process's own descriptor of ``<database>-writers.lock`` (a file lock is shared
    by every process holding the same descriptor, so one opened before a fork would
    exclude nothing); None for an in-memory database (or a ``file:`` URI, which has no plain
    path beside it). Called under the thread lock."""
    if connection.creation.is_in_memory_db(database):
        return None
    name = str(database)
    if not name or name.startswith("file:"):
        return None
    key = (os.getpid(), name)
    if key not in _lock_files:
        _lock_files[key] = os.open(
            Path(f"{name}-writers.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
    return _lock_files[key]


def rows_delete_before(
    *,
    table: str,
    column: str,
    cutoff: dt.datetime,
    batch_size: int = 50_000,
    max_batches: int | None = None,
    keep_going: Callable[[], bool] = lambda: True,
) -> int:
    """Delete the rows of ``table`` whose indexed ``column`` is before ``cutoff`` (a null
    never is), oldest first, in slices, until none is left, ``max_batches`` slices ran or
    ``keep_going()`` turned false; returns how many rows went.

    Each slice is a range of the index: its upper end is the ``batch_size``-th oldest value
    (read from the index), and one ``DELETE`` of that range runs in its own short
    transaction, so writers are never held up long and no row id travels to Python. Rows
    that share the upper end's value go in the same slice, so a slice can be larger than
    ``batch_size``. The retention of events and of the outbox (docs/adr/0018-retention-in-slices.md;
    measured in bench/retention.py)."""
    quoted, field = connection.ops.quote_name(table), connection.ops.quote_name(column)
    deleted, batches = 0, 0
    while (max_batches is None or batches < max_batches) and keep_going():
        batches += 1
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {field} FROM {quoted} WHERE {field} < %s ORDER BY {field} LIMIT 1 OFFSET %s",  # noqa: S608 -- quoted names only
                [cutoff, batch_size - 1],
            )
            upper = cursor.fetchone()
            if upper is None:  # less than a slice left: the rest, and done
                cursor.execute(f"DELETE FROM {quoted} WHERE {field} < %s", [cutoff])  # noqa: S608
            else:
                cursor.execute(
                    f"DELETE FROM {quoted} WHERE {field} <= %s AND {field} < %s",  # noqa: S608
                    [upper[0], cutoff],
                )
            deleted += cursor.rowcount
        if upper is None:
            break
    return deleted


# --- transactions writing to a table -------------------------------------------------------

# The transactions holding a ROW EXCLUSIVE lock on one of the tables (what INSERT, UPDATE,
# DELETE and COPY take when the statement starts, before any id is drawn, and keep to the end
# of the transaction), other than ours.
_TABLE_WRITERS = """
    SELECT DISTINCT virtualtransaction, pid FROM pg_locks
    WHERE locktype = 'relation' AND mode = 'RowExclusiveLock'
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND relation IN (SELECT to_regclass(name)::oid FROM unnest(%s::text[]) AS name)
      AND pid IS DISTINCT FROM pg_backend_pid()
"""
# Of those, the ones still open: a transaction holds the lock on its own virtual id until it
# ends.
_STILL_OPEN = """
    SELECT DISTINCT virtualxid FROM pg_locks
    WHERE locktype = 'virtualxid' AND virtualxid = ANY(%s::text[])
"""


def table_writers_wait(*, tables: Sequence[str], timeout_s: float) -> bool:
    """Wait until every transaction writing to one of ``tables`` now (other than ours) has
    ended, committed or rolled back; True when they all had within ``timeout_s``.

    What it is for: a row's id is drawn from its table's sequence when the row is inserted,
    but others see the row only when its transaction commits, so a row committed later can
    sit below the highest id a reader saw. A reader that reads its high-water marks (highest
    ids, or the time) and then waits here sees, from then on, every row up to its marks:
    those whose transaction was open when it read them have ended (ADR 73). Writers that
    start after the call are neither waited for nor held up.

    PostgreSQL: the writers are read from ``pg_locks`` and polled (1 ms, doubling to 50 ms)
    until gone; False, with a warning naming their process ids, when some are still open
    after ``timeout_s``. SQLite: one transaction writes at a time, so taking the write lock
    and giving it back at once waits for the writer of the moment, within SQLite's busy
    timeout (the connection's ``timeout``, not ``timeout_s``); False if that ran out. Inside
    a transaction of ours on SQLite (which holds the write lock) there is no other writer.
    """
    if connection.vendor == "sqlite":
        if connection.in_atomic_block:
            return True
        try:
            with transaction.atomic():  # BEGIN IMMEDIATE (settings): the write lock
                pass
        except OperationalError:
            logger.warning("a transaction kept SQLite's write lock past the busy timeout")
            return False
        return True
    names = [connection.ops.quote_name(table) for table in tables]
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    with connection.cursor() as cursor:
        cursor.execute(_TABLE_WRITERS, [names])
        writers = dict(cursor.fetchall())
        while writers:
            cursor.execute(_STILL_OPEN, [list(writers)])
            writers = {vxid: writers[vxid] for (vxid,) in cursor.fetchall()}
            if not writers:
                break
            if time.monotonic() >= deadline:
                logger.warning(
                    "transactions writing to %s still open after %.0f s (process ids %s)",
                    ", ".join(tables),
                    timeout_s,
                    ", ".join(str(pid) for pid in sorted(set(writers.values()), key=str)),
                )
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    return True


# --- planner statistics ----------------------------------------------------------------------

# As PostgreSQL's autovacuum decides to analyse a table: more rows changed since its last
# ANALYZE than 50 + 10 % of the rows it had then (never analysed: it had none).
STATISTICS_MIN_CHANGES = 50
STATISTICS_FRACTION = 0.1
STATISTICS_INTERVAL_S = 10.0
_STATISTICS_LOCK_KEY = 0x1EAD_57A7  # pg_try_advisory_xact_lock: one process analyses at a time
_statistics_checked_at = float("-inf")  # never checked


def planner_statistics_refresh() -> list[str]:
    """On PostgreSQL, ANALYZE the Leadmill tables whose statistics are stale; the names.

    The planner picks its plan from each table's statistics. A table that was never analysed
    (a new install, whose tables ``migrate`` made empty) or that grew tenfold since (an import,
    a first burst of leads) is planned as nearly empty: nested loops that read a whole table
    per row, hundreds of milliseconds for a batch that takes one (measured on the intake's
    consent check: 320 ms against 1 ms for 100 leads of 1,500). Autovacuum analyses only once
    a minute, and not at all where it is turned off. ANALYZE reads a sample (at most 30,000
    rows a table), takes no lock that stops reads or writes, and one process runs it at a
    time. Nothing on SQLite (its planner keeps no statistics unless asked). ADR 0058.
    """
    if connection.vendor != "postgresql":
        return []
    try:
        return _statistics_refresh(_our_tables())
    except OperationalError:  # a table locked by a migration: the next call analyses it
        return []


def _statistics_refresh(tables: list[str]) -> list[str]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_STATISTICS_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return []
        # ANALYZE waits for a table another session holds exclusively (a migration): not
        # for long, a drain is calling.
        cursor.execute("SET LOCAL lock_timeout = '500ms'")
        cursor.execute(
            "SELECT c.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE c.relname = ANY(%s) AND c.relnamespace = to_regnamespace(current_schema()) "
            "AND s.n_mod_since_analyze > %s + %s * GREATEST(c.reltuples, 0) ORDER BY c.relname",
            [tables, STATISTICS_MIN_CHANGES, STATISTICS_FRACTION],
        )
        stale = [name for (name,) in cursor.fetchall()]
        for name in stale:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(name)}")
    return stale


def planner_statistics_due(*, interval_s: float = STATISTICS_INTERVAL_S) -> bool:
    """True at most once every ``interval_s`` in this process, on PostgreSQL: when a loop
    that writes many rows (the intake drain) should have the statistics refreshed
    (:func:`planner_statistics_refresh`, by a task of its own so the loop does not wait for
    the ANALYZE), so the first minutes of a new install, or of a burst, are planned on the
    tables as they are."""
    global _statistics_checked_at
    now = time.monotonic()
    if connection.vendor != "postgresql" or now - _statistics_checked_at < interval_s:
        return False
    _statistics_checked_at = now
    return True


def _our_tables() -> list[str]:
    """The tables of Leadmill's own models (not Wagtail's, Django's or Huey's)."""
    return sorted(
        {
            model._meta.db_table
            for config in apps.get_app_configs()
            if config.name.startswith("leadmill.")
            for model in config.get_models()
            if model._meta.managed and not model._meta.proxy
        }
    )
