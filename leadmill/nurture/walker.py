"""Walking one batch of due enrollments through their steps (see :mod:`.engine`).

:class:`Walker` reads what the batch needs once (plans, contacts, templates, who may be
emailed), runs each enrollment's steps in a savepoint until a wait, an external call or the
end, and collects the messages to queue, the owner notifications to request (published in
the batch's transaction: sales sends them) and the calls to make after the commit.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction

from leadmill.consent.models import Consent
from leadmill.consent.selectors import is_suppressed, marketing_recipients
from leadmill.contacts.models import Contact
from leadmill.contacts.services import contact_stage_change, contact_update
from leadmill.messaging.models import EmailTemplate, Message
from leadmill.scoring.services import score_points_add

from . import actions
from .conditions import branch_holds
from .events import OwnerNotificationRequested
from .models import Enrollment, Sequence
from .plans import Plan, contact_zone, sequence_plan, wait_until
from .reasons import Reason

logger = logging.getLogger(__name__)

MAX_STEPS_PER_RUN = 100  # more in a row continue in the next batch
ERROR_RETRY = dt.timedelta(minutes=15)
ACTION_LEASE = dt.timedelta(minutes=5)
CONSENT_PENDING_RETRY = dt.timedelta(hours=1)


def consent_pending_limit() -> dt.timedelta:
    """How long a send step waits for a double opt-in confirmation: as long as the
    confirmation link is valid (``LEADMILL_DOUBLE_OPT_IN_DAYS``)."""
    return dt.timedelta(days=settings.LEADMILL_DOUBLE_OPT_IN_DAYS)


SAVED_FIELDS = ["state", "step_id", "step_started_at", "next_run_at", "ended_at", "exit_reason"]


class Walker:
    """Walks one batch: the plans, contacts and consent answers it needs, read once."""

    def __init__(self, *, now: dt.datetime, enrollments: list[Enrollment]):
        self.now = now
        self.count = len(enrollments)
        self.messages: list[Message] = []
        self.actions: list[actions.Action] = []
        self.owner_notifications: list[OwnerNotificationRequested] = []
        self.sequences = Sequence.objects.in_bulk({e.sequence_id for e in enrollments})
        self.plans = {pk: sequence_plan(sequence) for pk, sequence in self.sequences.items()}
        self.contacts = Contact.objects.in_bulk({e.contact_id for e in enrollments})
        self._templates: dict[int, EmailTemplate] = {}
        self._recipients: dict[int | None, set[int]] = {}

    def walk(self, enrollment: Enrollment) -> None:
        saved = {name: getattr(enrollment, name) for name in SAVED_FIELDS}
        queued, notified = len(self.messages), len(self.owner_notifications)
        try:
            if self.plans[enrollment.sequence_id].needs_savepoint:
                with transaction.atomic():  # a savepoint: a failing step undoes only its own writes
                    self._walk(enrollment)
            else:  # nothing written until the batch saves: no savepoint to pay for
                self._walk(enrollment)
        except Exception:
            logger.exception(
                "sequence %s enrollment %s contact %s: step %s failed; retrying in %s",
                enrollment.sequence_id,
                enrollment.pk,
                enrollment.contact_id,
                enrollment.step_id,
                ERROR_RETRY,
            )
            del self.messages[queued:]
            del self.owner_notifications[notified:]
            for name, value in saved.items():
                setattr(enrollment, name, value)
            enrollment.next_run_at = self.now + ERROR_RETRY

    def _walk(self, enrollment: Enrollment) -> None:
        plan = self.plans[enrollment.sequence_id]
        contact = self.contacts[enrollment.contact_id]
        index = 0 if not enrollment.step_id else plan.by_id.get(enrollment.step_id)
        if index is None:
            self._end(enrollment, Enrollment.State.COMPLETED, Reason.STEP_REMOVED)
            return
        visited: set[int] = set()
        for _hop in range(MAX_STEPS_PER_RUN):
            if index >= len(plan.steps):
                self._end(enrollment, Enrollment.State.COMPLETED, Reason.LAST_STEP)
                return
            if index in visited:  # back at a step without having waited: it would never stop
                logger.error(
                    "sequence %s enrollment %s: steps loop without a wait at step %s; the lead leaves",
                    enrollment.sequence_id,
                    enrollment.pk,
                    plan.steps[index].id,
                )
                self._end(enrollment, Enrollment.State.EXITED, Reason.LOOP)
                return
            step = plan.steps[index]
            if step.type != "wait":  # a wait stops the walk, unless it is over: then it is left
                visited.add(index)
            if enrollment.step_id != step.id:
                enrollment.step_id, enrollment.step_started_at = step.id, self.now
            next_index = self._run_step(plan, index, enrollment, contact)
            if next_index is None:
                return
            index = next_index
        # More steps in a row than one walk takes: the rest runs in the next batch, from the
        # step not yet run (never from one already run: it would run twice).
        if index >= len(plan.steps):
            self._end(enrollment, Enrollment.State.COMPLETED, Reason.LAST_STEP)
        else:
            enrollment.step_id, enrollment.step_started_at = plan.steps[index].id, self.now
            enrollment.next_run_at = self.now

    def _run_step(
        self, plan: Plan, index: int, enrollment: Enrollment, contact: Contact
    ) -> int | None:
        """Run one step; the index of the next one, or None when the walk stops here."""
        step = plan.steps[index]
        if step.type == "send_email":
            return self._send_email(step, index, enrollment, contact)
        if step.type == "wait":
            wake = wait_until(
                value=step.value,
                now=enrollment.step_started_at,
                zone=contact_zone(contact.time_zone),
            )
            if wake <= self.now:
                return index + 1
            enrollment.next_run_at = wake
            return None
        if step.type == "branch":
            holds = branch_holds(
                plan=plan, index=index, enrollment=enrollment, contact=contact, now=self.now
            )
            target = plan.index_of_label(
                step.value.get("then_go_to" if holds else "else_go_to") or ""
            )
            return index + 1 if target is None else target
        if step.type == "update":
            self._update_contact(step.value, enrollment, contact)
            return index + 1
        if step.type == "add_points":
            self._add_points(step.value, enrollment, contact)
            return index + 1
        if step.type == "notify_owner":
            self.owner_notifications.append(
                OwnerNotificationRequested(
                    enrollment_id=enrollment.pk,
                    step_id=step.id,
                    contact_id=enrollment.contact_id,
                    sequence_id=enrollment.sequence_id,
                    message=str(step.value.get("message") or ""),
                    occurred_at=self.now,
                )
            )
            return index + 1
        if step.type == "webhook":
            enrollment.next_run_at = self.now + ACTION_LEASE
            self.actions.append(actions.Action(enrollment.pk, step.id, step.type, step.value))
            return None
        if step.type == "end":
            self._end(enrollment, Enrollment.State.COMPLETED, Reason.END_STEP)
            return None
        logger.warning(
            "sequence %s step %s: unknown step type %r skipped",
            plan.sequence_id,
            step.id,
            step.type,
        )
        return index + 1

    def _end(self, enrollment: Enrollment, state: str, reason: str) -> None:
        enrollment.state, enrollment.ended_at, enrollment.next_run_at = state, self.now, None
        enrollment.exit_reason = reason[:200]

    # --- send email -------------------------------------------------------------------------

    def _template(self, template_id) -> EmailTemplate | None:
        if template_id not in self._templates:
            self._templates[template_id] = EmailTemplate.objects.filter(pk=template_id).first()
        return self._templates[template_id]

    def _may_email(self, contact_id: int, purpose_id: int | None) -> bool:
        if purpose_id not in self._recipients:
            self._recipients[purpose_id] = set(
                marketing_recipients(contact_ids=list(self.contacts), purpose_id=purpose_id)
            )
        return contact_id in self._recipients[purpose_id]

    def _send_email(self, step, index: int, enrollment: Enrollment, contact: Contact) -> int | None:
        template = self._template(step.value.get("template"))
        if template is None:
            logger.warning(
                "sequence %s step %s: its email template is gone; step skipped",
                enrollment.sequence_id,
                step.id,
            )
            return index + 1
        if self._may_email(contact.pk, template.purpose_id):
            self.messages.append(
                Message(
                    contact_id=contact.pk,
                    template_id=template.pk,
                    enrollment_id=enrollment.pk,
                    step_id=step.id,
                )
            )
            return index + 1
        if not contact.email or is_suppressed(email=contact.email):
            self._end(
                enrollment,
                Enrollment.State.EXITED,
                Reason.CANNOT_EMAIL,
            )
        elif (
            _awaiting_confirmation(contact.pk, template.purpose_id)
            and self.now - enrollment.step_started_at < consent_pending_limit()
        ):
            enrollment.next_run_at = self.now + CONSENT_PENDING_RETRY
        else:
            self._end(enrollment, Enrollment.State.EXITED, Reason.NO_CONSENT)
        return None

    # --- update the lead, add points ---------------------------------------------------------

    def _cause(self, enrollment: Enrollment) -> str:
        return f"sequence “{self.sequences[enrollment.sequence_id].name}”"[:200]

    def _update_contact(self, value: dict, enrollment: Enrollment, contact: Contact) -> None:
        field, target = value.get("field"), str(value.get("value") or "").strip()
        if field == "lifecycle_stage":
            contact_stage_change(
                contact=contact, to_stage=target, cause=self._cause(enrollment), at=self.now
            )
        elif field == "temperature":
            contact_update(contact=contact, changes={"temperature": target})
        elif field == "custom":
            key, _sep, text = target.partition("=")
            contact_update(
                contact=contact,
                changes={"custom": {**(contact.custom or {}), key.strip(): text.strip()}},
            )
        else:
            raise ValueError(f"unknown field to update: {field!r}")

    def _add_points(self, value: dict, enrollment: Enrollment, contact: Contact) -> None:
        """In the batch's transaction: rolled back with it, so a retried step adds once."""
        score_points_add(
            contact_id=contact.pk,
            points=int(value.get("points") or 0),
            reason=str(value.get("reason") or self._cause(enrollment))[:200],
            at=self.now,
        )


def _awaiting_confirmation(contact_id: int, purpose_id: int | None) -> bool:
    """Whether the contact's latest answer for the email's subscription type (any
    email-marketing type when it has none) is a grant still waiting for its double opt-in
    confirmation (then a send step waits for it, as long as the link is valid)."""
    answers = Consent.objects.filter(contact_id=contact_id)
    if purpose_id is not None:
        answers = answers.filter(purpose_id=purpose_id)
    else:
        answers = answers.filter(purpose__is_email_marketing=True)
    latest = (
        answers.order_by("-occurred_at", "-id")
        .values_list("granted", "awaiting_confirmation")
        .first()
    )
    return latest is not None and latest[0] and latest[1]
