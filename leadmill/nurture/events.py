"""Events the nurture app publishes on the domain event bus."""

import datetime as dt

from leadmill.core.events import event


@event
class EnrollmentStarted:
    """A contact was enrolled in a sequence; ``source`` says what enrolled it ("form",
    "stage", "segment", a person's manual enrolment …)."""

    enrollment_id: int
    contact_id: int
    sequence_id: int
    source: str
    occurred_at: dt.datetime


@event
class EnrollmentExited:
    """An enrollment ended: ``state`` is "completed" (it reached the end, or its step was
    removed) or "exited" (it left early: an exit stage, an unsubscribe, no consent, a
    loop); ``reason`` is the English reason kept in ``Enrollment.exit_reason``
    (:class:`leadmill.nurture.reasons.Reason`, an exit stage as "<reason>: <stage>")."""

    enrollment_id: int
    contact_id: int
    sequence_id: int
    state: str
    reason: str
    occurred_at: dt.datetime


@event
class OwnerNotificationRequested:
    """A sequence's "notify owner" step was reached: the lead's owner is to be told
    ``message`` (sales sends it: :func:`leadmill.sales.handlers.notify_owner_of_sequence_step`).
    ``step_id`` with ``enrollment_id`` identifies the request, so it is sent once."""

    enrollment_id: int
    step_id: str
    contact_id: int
    sequence_id: int
    message: str
    occurred_at: dt.datetime
