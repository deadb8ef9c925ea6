"""The step of a sequence that reaches outside the database: call a webhook.

(A "notify owner" step no longer does: it publishes OwnerNotificationRequested in the
engine's batch, and sales sends the email; see :mod:`leadmill.sales.handlers`.)

They never run inside the engine's batch transaction (a slow receiver would hold every
other enrollment). The batch leaves the enrollment at the step with a lease
(``next_run_at`` a few minutes ahead); :func:`action_run` then makes the call and, in a
short transaction, moves the enrollment on only if it is still at that step. A crash before
that leaves the lease to expire and the call is made again: delivery is at least once, and
each webhook carries ``enrollment_id`` and ``step_id`` so a receiver can drop a repeat.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from urllib.parse import urlsplit

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from leadmill.core.outgoing import OutgoingFailed, OutgoingRefused, outgoing_request

from .models import Enrollment
from .plans import sequence_plan
from .reasons import Reason
from .services import enrollments_ended_publish

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 5
WEBHOOK_MAX_ANSWER_BYTES = 64 * 1024  # only the status matters; the rest is not read
RETRY_MIN = dt.timedelta(minutes=1)
RETRY_MAX = dt.timedelta(hours=6)
GIVE_UP_AFTER = dt.timedelta(days=3)


@dataclasses.dataclass(frozen=True)
class Action:
    enrollment_id: int
    step_id: str
    kind: str  # "webhook"
    value: dict


class ActionFailed(Exception):
    pass


def retry_delay(*, failing_for: dt.timedelta) -> dt.timedelta:
    """Wait as long again as the step has been failing (1 min … 6 h): a doubling backoff
    without a counter column."""
    return min(max(failing_for, RETRY_MIN), RETRY_MAX)


def webhook_payload(*, enrollment: Enrollment, step_id: str, label: str) -> dict:
    contact, sequence = enrollment.contact, enrollment.sequence
    return {
        "event": "sequence.step",
        "enrollment_id": enrollment.pk,
        "contact": {"id": contact.pk, "email": contact.email or ""},
        "sequence": {"id": sequence.pk, "name": sequence.name},
        "step": {"id": step_id, "label": label},
        "enrolled_at": enrollment.enrolled_at,
    }


def webhook_call(*, url: str, payload: dict) -> int:
    """POST ``payload`` as JSON through the one outgoing client (public addresses only,
    resolved once, no redirect followed, bounded in time and size: see
    :mod:`leadmill.core.outgoing`); returns the status. Raises ActionFailed unless 2xx
    (a 3xx included), or when the URL is refused."""
    body = json.dumps(payload, cls=DjangoJSONEncoder).encode()
    try:
        response = outgoing_request(
            method="POST",
            url=url,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": "Leadmill-Sequences/1"},
            total_timeout=WEBHOOK_TIMEOUT_S,
            max_body_bytes=WEBHOOK_MAX_ANSWER_BYTES,
        )
    except OutgoingRefused as exc:
        raise ActionFailed(f"refused {_origin(url)!r}: {exc}") from exc
    except OutgoingFailed as exc:
        raise ActionFailed(str(exc)) from exc
    if not 200 <= response.status < 300:
        raise ActionFailed(f"HTTP {response.status}")
    return response.status


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, for the log: a webhook's path and query often hold
    the receiver's secret token."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def action_run(*, action: Action, now: dt.datetime | None = None) -> bool:
    """Make the call a batch left leased, then move the enrollment to the next step (only if
    it is still at this step). A failure is logged and retried with a backoff; after
    :data:`GIVE_UP_AFTER` the step is skipped. Returns True when the call succeeded."""
    now = now or timezone.now()
    enrollment = (
        Enrollment.objects.select_related("contact__owner", "sequence")
        .filter(pk=action.enrollment_id, state=Enrollment.State.ACTIVE, step_id=action.step_id)
        .first()
    )
    if enrollment is None:
        return False
    try:
        payload = webhook_payload(
            enrollment=enrollment, step_id=action.step_id, label=action.value.get("label") or ""
        )
        webhook_call(url=str(action.value.get("url") or ""), payload=payload)
    except Exception as exc:
        failing_for = now - (enrollment.step_started_at or now)
        if failing_for < GIVE_UP_AFTER:
            retry_at = now + retry_delay(failing_for=failing_for)
            logger.warning(
                "sequence %s enrollment %s contact %s: %s step %s failed (%s); retrying at %s",
                enrollment.sequence_id,
                enrollment.pk,
                enrollment.contact_id,
                action.kind,
                action.step_id,
                exc,
                retry_at.isoformat(),
            )
            Enrollment.objects.filter(
                pk=enrollment.pk, state=Enrollment.State.ACTIVE, step_id=action.step_id
            ).update(next_run_at=retry_at)
            return False
        logger.error(
            "sequence %s enrollment %s contact %s: %s step %s failing since %s; skipped (%s)",
            enrollment.sequence_id,
            enrollment.pk,
            enrollment.contact_id,
            action.kind,
            action.step_id,
            enrollment.step_started_at,
            exc,
        )
    _step_done(enrollment=enrollment, step_id=action.step_id, now=now)
    return True


def _step_done(*, enrollment: Enrollment, step_id: str, now: dt.datetime) -> None:
    plan = sequence_plan(enrollment.sequence)
    index = plan.by_id.get(step_id)
    still_here = Enrollment.objects.filter(
        pk=enrollment.pk, state=Enrollment.State.ACTIVE, step_id=step_id
    )
    if index is not None and index + 1 < len(plan.steps):
        still_here.update(step_id=plan.steps[index + 1].id, step_started_at=now, next_run_at=now)
        return
    with transaction.atomic():
        if still_here.update(
            state=Enrollment.State.COMPLETED,
            ended_at=now,
            next_run_at=None,
            exit_reason=Reason.LAST_STEP,
        ):
            enrollment.state, enrollment.ended_at = Enrollment.State.COMPLETED, now
            enrollment.exit_reason = Reason.LAST_STEP
            enrollments_ended_publish([enrollment])
