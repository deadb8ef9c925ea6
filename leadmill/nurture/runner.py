"""One pass of nurture's background work, as the periodic task and the kick run it.

Order matters: contacts who just entered a trigger segment are enrolled first, due steps
are advanced (queueing emails), due broadcasts queue theirs, then the queue is sent. Each
part is bounded, so a pass ends even when a backlog does not; the next pass continues it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.utils import timezone

from .broadcasts import broadcasts_finish, broadcasts_start_due
from .engine import enrollments_advance
from .triggers import segment_triggers_check

ADVANCE_PER_PASS = 5000
SEND_ROUNDS_PER_PASS = 20  # × 500 messages
SEND_ROUND = 500


@dataclasses.dataclass
class PassReport:
    enrolled: int = 0
    advanced: int = 0
    broadcast_queued: int = 0
    sent: int = 0
    suppressed: int = 0
    failed: int = 0
    connection_error: str = ""

    @property
    def did_something(self) -> bool:
        return bool(
            self.enrolled
            or self.advanced
            or self.broadcast_queued
            or self.sent
            or self.suppressed
            or self.failed
        )


def nurture_pass(
    *,
    now: dt.datetime | None = None,
    sweep_segments: bool = True,
    start_broadcasts: bool = True,
    advance_steps: bool = True,
    send_rounds: int = SEND_ROUNDS_PER_PASS,
) -> PassReport:
    """Enrol segment newcomers, advance due enrollments, start due broadcasts, send the queue.

    ``now`` (default: the present) is the time the pass acts at; tests pass a later one.
    The queue is sent by one sender at a time (messaging's send lock): a pass that finds
    another sending leaves the queue to it (ADR 68).
    """
    from leadmill.messaging.sending import messages_send_due
    from leadmill.messaging.tasks import SEND_LOCK

    now = now or timezone.now()
    report = PassReport()
    if sweep_segments:
        report.enrolled = segment_triggers_check(contact_ids=None, now=now)
    if advance_steps:
        report.advanced = enrollments_advance(now=now, limit=ADVANCE_PER_PASS)
    if start_broadcasts:
        report.broadcast_queued = broadcasts_start_due(now=now)
    with SEND_LOCK.hold() as sending:
        for _round in range(send_rounds if sending else 0):
            sent = messages_send_due(limit=SEND_ROUND, now=now)
            report.sent += sent.sent
            report.suppressed += sent.suppressed
            report.failed += sent.failed
            if sent.connection_error or sent.throttled:
                report.connection_error = sent.connection_error
                break
            if not (sent.sent or sent.suppressed or sent.failed):
                break
    if start_broadcasts:
        broadcasts_finish()
    return report
