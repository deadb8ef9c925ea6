"""Background entry points of messaging: thin, idempotent.

``messages_send_tick`` runs the send queue every minute on one worker at a time, so a
transactional email the mail server could not take is retried even where no nurture runs
(nurture's own pass sends the queue too; claims keep two senders from sending one message
twice). Its lock expires (:mod:`leadmill.core.locks`), so a killed worker cannot stop it.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from leadmill.core.locks import ExpiringLock

from .sending import messages_send_due

SEND_LOCK_S = 300
SEND_ROUNDS = 20  # × 500 messages a minute at most
SEND_LOCK = ExpiringLock("messaging.send", seconds=SEND_LOCK_S)


@db_periodic_task(crontab(minute="*"))
def messages_send_tick() -> None:
    """Every minute: send what is queued (and retry what a mail server refused for now)."""
    with SEND_LOCK.hold() as held:
        if not held:
            return
        for _round in range(SEND_ROUNDS):
            report = messages_send_due(limit=500)
            if report.connection_error or report.throttled or not report.did_something:
                return
