"""The worker's sending thread: transactional email sent beside the work that queued it.

The owner's "new lead for you" is queued by the drain that assigned the lead (ADR 67: no
queue hop), and sending it there made the drain wait for the mail server: four round trips
per email, for every lead of the batch, while the next batch's leads waited to be
processed (bench/intake.py: 0.7 s of the median lead's way, the last stage). In the
worker, :func:`messages_send_soon` hands the messages to one thread of the process, which
sends whatever has been handed to it meanwhile over one connection
(:func:`.sending.messages_send_now`), while the drain goes on with the next batch
(ADR 75).

Nothing is lost by it: a message is a queued row, committed before it is handed over. If
the thread cannot send it (mail server unreachable, the process killed), the row stays
queued, or its claim lapses, and the send queue sends it within the minute
(:func:`.tasks.messages_send_tick`). Elsewhere (the web, commands, tests) nothing started
the thread and :func:`messages_send_soon` sends at once, in the caller's thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable

from django.db import close_old_connections, connections, transaction

from .sending import messages_send_now

logger = logging.getLogger(__name__)

_STOP = None  # handed to the thread: send what came before, then end
_handed: queue.Queue[list[int] | None] | None = None
_thread: threading.Thread | None = None
_start_lock = threading.Lock()


def sending_thread_start() -> None:
    """From now on, in this process, :func:`messages_send_soon` hands its messages to one
    sending thread (started once; later calls do nothing). The worker calls it at start-up
    (:mod:`.tasks`)."""
    global _handed, _thread
    with _start_lock:
        if _handed is not None:
            return
        handed: queue.Queue[list[int] | None] = queue.Queue()
        _thread = threading.Thread(
            target=_send_handed, args=(handed,), name="leadmill-email", daemon=True
        )
        _thread.start()
        _handed = handed


def sending_thread_stop() -> None:
    """Send what was handed to the thread, then end it; :func:`messages_send_soon` sends in
    its caller's thread again. The worker calls it when it stops."""
    global _handed, _thread
    with _start_lock:
        handed, thread, _handed, _thread = _handed, _thread, None, None
    if handed is not None and thread is not None:
        handed.put(_STOP)
        thread.join()


def messages_send_soon(*, message_ids: Iterable[int]) -> None:
    """Send these queued messages as soon as possible: by the sending thread when this
    process started it (after the caller's transaction commits, so the thread finds the
    rows), else at once in this thread (:func:`.sending.messages_send_now`)."""
    ids = list(message_ids)
    if not ids:
        return
    handed = _handed
    if handed is None:
        messages_send_now(message_ids=ids)
        return
    transaction.on_commit(lambda: handed.put(ids))


def _send_handed(handed: queue.Queue[list[int] | None]) -> None:
    """The thread's loop: wait for messages, take every list handed meanwhile, send them
    together. An error is logged and the loop goes on: what was not sent is still queued
    for the send queue. Ends at :data:`_STOP`, closing its database connection."""
    stopping = False
    while not stopping:
        batches = [handed.get()]
        while True:
            try:
                batches.append(handed.get_nowait())
            except queue.Empty:
                break
        stopping = _STOP in batches
        ids = [pk for batch in batches if batch is not _STOP for pk in batch]
        try:
            close_old_connections()  # as a task does: a connection broken or too old goes
            if ids:
                messages_send_now(message_ids=ids)
        except Exception:
            logger.exception("emails left queued for the send queue")
        finally:
            close_old_connections()
    connections.close_all()
