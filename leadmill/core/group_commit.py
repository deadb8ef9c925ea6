"""Group commit: the writes of a process's threads, gathered into one transaction.

A web process serves many requests at once on its threads. When each writes a few rows
with a statement and a commit of its own, the fixed cost of a statement and a commit
(parse, plan, round trips, the WAL flush) is most of what a small write costs. A
:class:`GroupCommit` lets the first thread to arrive write at once and lets those that
arrive while it writes queue up; the next writer takes the whole queue into one
statement and one transaction. Nobody waits for a timer: a lone request writes at once,
and under load the groups grow by themselves (docs/adr/0010-collect-fast-path.md).

Every caller still gets its own answer, and only after the commit that holds its rows.
A group that fails is written again one item at a time, so one bad item fails only its
own caller. A caller waits in the queue at most ``wait_s``: a write that is stuck (a lock
held in the database) fails the callers queued behind it with :class:`WriteQueueTimeout`
(answered 503) instead of stalling every request of the process; the stuck write itself
is bounded by the statement and lock timeouts of its connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from django.db import OperationalError, connection

W = TypeVar("W")
R = TypeVar("R")


class _Slot(Generic[W, R]):
    __slots__ = ("done", "error", "has_result", "leads", "result", "work")

    def __init__(self, work: W) -> None:
        self.work = work
        self.done = threading.Event()
        self.leads = False  # woken to write the queue, not with an answer
        self.has_result = False
        self.result: R | None = None
        self.error: BaseException | None = None


class WriteQueueTimeout(OperationalError):
    """The write queued behind another that did not finish in time: the database is not
    taking writes (an :class:`~django.db.OperationalError`, so the edge answers 503)."""


class GroupCommit(Generic[W, R]):
    """Runs ``write(items)`` for the items of concurrent :meth:`submit` calls, items of a
    total ``size`` up to ``max_size`` at a time (always at least one); ``write`` must
    return one result per item, in order, and do all its work in one transaction of the
    calling thread's connection. ``wait_s`` (a number, or a function read at each call) is
    the longest a caller waits in the queue."""

    def __init__(
        self,
        write: Callable[[Sequence[W]], Sequence[R]],
        *,
        max_size: int = 32,
        size: Callable[[W], int] = lambda work: 1,
        wait_s: float | Callable[[], float] = 10.0,
    ) -> None:
        self._write = write
        self._max_size = max_size
        self._size = size
        self._wait_s = wait_s if callable(wait_s) else (lambda: wait_s)
        self._lock = threading.Lock()
        self._queue: list[_Slot[W, R]] = []
        self._writing = False  # a thread is writing a group; while False the queue is empty

    def submit(self, work: W) -> R:
        """Write ``work`` (with whatever else is queued) and return its result, or raise
        the error that writing it raised (:class:`WriteQueueTimeout` after ``wait_s`` in
        the queue). Inside a caller's transaction it is written alone, in that transaction."""
        if connection.in_atomic_block:
            return self._write([work])[0]
        slot: _Slot[W, R] = _Slot(work)
        with self._lock:
            self._queue.append(slot)
            leads = not self._writing
            self._writing = True
        if not leads:
            self._wait(slot)
            if not slot.leads:
                return self._answer(slot)
        # This thread writes: the queue starts with its own slot. Whatever happens to the
        # write, the next queued caller is woken to write next.
        try:
            with self._lock:
                group = self._take()
            self._write_group(group)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.leads = True
                    successor.done.set()
                else:
                    self._writing = False
        return self._answer(slot)

    def _wait(self, slot: _Slot[W, R]) -> None:
        """Wait until ``slot`` is answered or called to write; raise :class:`WriteQueueTimeout`
        when it is still queued after ``wait_s``. A slot a writer has taken is waited for to
        the end: its answer comes with that write."""
        if slot.done.wait(self._wait_s()):
            return
        with self._lock:
            if not slot.done.is_set() and slot in self._queue:
                self._queue.remove(slot)
                raise WriteQueueTimeout(
                    "The write waited too long behind another: the database is not taking writes."
                )
        slot.done.wait()

    def _take(self) -> list[_Slot[W, R]]:
        """The first queued slots up to ``max_size`` (at least one), off the queue."""
        total, count = 0, 0
        for slot in self._queue:
            total += self._size(slot.work)
            if count and total > self._max_size:
                break
            count += 1
        group, self._queue = self._queue[:count], self._queue[count:]
        return group

    @staticmethod
    def _answer(slot: _Slot[W, R]) -> R:
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _write_group(self, group: list[_Slot[W, R]]) -> None:
        try:
            try:
                results = self._write([slot.work for slot in group])
            except Exception as exc:
                if len(group) == 1:
                    group[0].error = exc
                else:
                    self._write_one_by_one(group)
            else:
                for slot, result in zip(group, results, strict=True):
                    slot.result, slot.has_result = result, True
        finally:
            for slot in group:
                if not slot.has_result and slot.error is None:
                    slot.error = RuntimeError(
                        "The group write stopped before this item was written."
                    )
                slot.leads = False
                slot.done.set()

    def _write_one_by_one(self, group: list[_Slot[W, R]]) -> None:
        for slot in group:
            try:
                slot.result, slot.has_result = self._write([slot.work])[0], True
            except Exception as exc:
                slot.error = exc
