"""Database helpers shared by the public hot paths (form posts, tracking batches)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from django.db import connection

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
        _lock_files[key] = os.open(Path(f"{name}-writers.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return _lock_files[key]
