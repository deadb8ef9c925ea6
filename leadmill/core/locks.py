"""Expiring locks shared by every process: at most one background task of a kind at a time.

A lock is a key in the cache every process shares (Redis when configured, else the
database's cache table), added with a timeout, so a holder that dies (SIGKILL, a lost
machine) cannot keep it: it lapses after its ``seconds``. A holder that runs longer
renews it as it goes (:meth:`Held.renew`). A consumer that starts releases at once the locks a
dead process of its own machine left (:func:`locks_release_dead`), so a restarted worker
does not wait for them to lapse. Huey's ``lock_task`` keeps its key until it is deleted,
which a killed worker never does (docs/adr/0017-worker-supervision-and-expiring-locks.md).

The work such a lock guards must be safe to overlap (``SKIP LOCKED`` batches, claimed
rows): a holder that outlives its lock costs time, never correctness.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

from django.core.cache import cache

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

KEY_PREFIX = "leadmill.lock."
_PROCESS = uuid.uuid4().hex  # tells this process from an earlier one that had the same pid
_declared: dict[str, ExpiringLock] = {}


class Held:
    """What :meth:`ExpiringLock.hold` yields: true while this process holds the lock."""

    def __init__(self, lock: ExpiringLock, token: str | None) -> None:
        self.lock, self.token = lock, token
        self._renewed_at = time.monotonic()

    def __bool__(self) -> bool:
        return self.token is not None

    def renew(self) -> bool:
        """Hold the lock for another ``seconds`` from now (at most once a third of that);
        False when it was lost meanwhile (it lapsed and another process took it)."""
        if self.token is None:
            return False
        if time.monotonic() - self._renewed_at < self.lock.seconds / 3:
            return True
        if cache.get(self.lock.key) != self.token:
            self.token = None
            return False
        cache.set(self.lock.key, self.token, timeout=self.lock.seconds)
        self._renewed_at = time.monotonic()
        return True


class ExpiringLock:
    """A named lock held for at most ``seconds`` unless renewed. Declare each at module level
    (so a starting consumer knows every name), then ``with LOCK.hold() as held: if held: ...``,
    or decorate a task with it to run the task only while holding it."""

    def __init__(self, name: str, *, seconds: int) -> None:
        self.name, self.seconds = name, seconds
        self.key = KEY_PREFIX + name
        _declared[name] = self

    @contextlib.contextmanager
    def hold(self) -> Iterator[Held]:
        """Yields a :class:`Held`, false when another process holds the lock; releases it at
        the end unless it was lost meanwhile."""
        token = f"{socket.gethostname()}|{os.getpid()}|{_PROCESS}|{uuid.uuid4().hex}"
        held = Held(self, token if cache.add(self.key, token, timeout=self.seconds) else None)
        try:
            yield held
        finally:
            if held.token is not None and cache.get(self.key) == held.token:
                cache.delete(self.key)

    def __call__(self, task: Callable[P, T]) -> Callable[P, T | None]:
        @functools.wraps(task)
        def locked(*args: P.args, **kwargs: P.kwargs) -> T | None:
            with self.hold() as held:
                return task(*args, **kwargs) if held else None

        return locked


def _holder_dead(token: str) -> bool:
    """Whether the token's holder was a process of this machine that no longer runs."""
    host, _, rest = token.partition("|")
    pid, _, process = rest.partition("|")
    process = process.partition("|")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return process != _PROCESS  # an earlier process with this pid (a restarted container)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def locks_release_dead() -> list[str]:
    """Release every declared lock held by a process of this machine that is gone (a worker
    killed in the middle of a task); returns their names. Locks of live processes and of
    other machines are left to their holders or to their expiry."""
    released = []
    for name, lock in sorted(_declared.items()):
        token = cache.get(lock.key)
        if isinstance(token, str) and _holder_dead(token) and cache.get(lock.key) == token:
            cache.delete(lock.key)
            released.append(name)
    if released:
        logger.warning("released the locks %s left by a process that is gone", ", ".join(released))
    return released
