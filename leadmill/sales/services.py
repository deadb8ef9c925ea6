"""Writes of the sales app. Each public function is one transaction.

Assignment is a smooth weighted round robin (as nginx balances upstreams): every turn each
eligible rep's current weight grows by its weight, the largest wins and gives back the sum of
the weights. Over any window the shares follow the weights, evenly interleaved, and the
order is deterministic (ties go to the rep created first). The state lives in
:class:`.models.RoundRobinPool` rows locked while a lead is assigned.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.contacts.models import Contact, LifecycleStage, Outcome
from leadmill.contacts.services import (
    contact_owner_set,
    contact_stage_change,
    contact_update,
    contacts_owner_set,
)
from leadmill.core import events
from leadmill.core.db import instances_insert
from leadmill.core.errors import Conflict, ValidationFailed

from . import tasks
from .events import OwnerAssigned
from .models import (
    FIRST_TOUCH_KINDS,
    Activity,
    ActivityKind,
    AssignmentRule,
    LeadStatus,
    RoundRobinPool,
    SalesLead,
    SalesRep,
)
from .selectors import sla_hours

logger = logging.getLogger(__name__)

# Activities that try to reach the lead (a note or a task does not).
REACHING_OUT_KINDS = frozenset({ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING})


@dataclasses.dataclass(frozen=True)
class Assignment:
    lead: SalesLead
    assigned: bool  # False: it already had an owner, or no rep could take it


# --- Assignment ----------------------------------------------------------------------------


def lead_assign(*, contact: Contact, mql_at: dt.datetime | None = None) -> Assignment:
    """:func:`leads_assign` for one contact."""
    return leads_assign(contacts=[contact], mql_at={contact.pk: mql_at} if mql_at else None)[0]


def leads_assign(
    *, contacts: list[Contact], mql_at: dict[int, dt.datetime] | None = None
) -> list[Assignment]:
    """Hand contacts to sales: open each one's sales lead and give it an owner, in one
    transaction (the contacts locked in id order); returns their assignments in the order
    of ``contacts``.

    Idempotent: a lead that already has an owner is returned as it is. Rules are tried by
    priority; the first that matches and has an eligible rep (available, active, under
    capacity) picks one by weighted round robin over its reps; otherwise the round robin
    runs over every eligible rep whose territories / segments / sources take the lead. A
    contact that already had an owner keeps it. With nobody eligible the lead stays without
    an owner until ``lead_assign`` runs for it again (:func:`leads_unowned_assign`, every
    few minutes). ``mql_at``: when each contact became an MQL (default: its stage change).

    Publishes OwnerAssigned for each lead it gives an owner (its handler emails the owners,
    :func:`.handlers.notify_new_owner`). After commit, one task sends the new-lead alerts.
    """
    now = timezone.now()
    mql_at = mql_at or {}
    results: dict[int, Assignment] = {}
    with transaction.atomic():
        locked_all = list(
            Contact.objects.select_for_update()
            .filter(pk__in=sorted({contact.pk for contact in contacts}))
            .order_by("pk")
        )
        rules = _rules_active()
        turns = _Turns(rules=rules, now=now)
        leads = {
            lead.contact_id: lead
            for lead in SalesLead.objects.filter(contact_id__in=[c.pk for c in contacts])
        }
        # The new sales leads, the contacts' owners and the OwnerAssigned facts are written
        # for the whole batch at the end: one INSERT, one UPDATE per owner, one outbox
        # INSERT (ADR 39, ADR 42).
        owners: dict[int, int] = {}
        new_leads: list[SalesLead] = []
        for locked in locked_all:
            results[locked.pk] = _lead_assign_locked(
                locked,
                lead=leads.get(locked.pk),
                mql_at=mql_at.get(locked.pk),
                turns=turns,
                owners=owners,
                new_leads=new_leads,
            )
        instances_insert(new_leads)
        turns.save()
        contacts_owner_set(owners=owners)
        events.publish_many(
            [
                OwnerAssigned(
                    lead_id=result.lead.pk,
                    contact_id=result.lead.contact_id,
                    owner_id=result.lead.owner_id,
                    rule_id=result.lead.rule_id,
                    occurred_at=now,
                )
                for result in results.values()
                if result.assigned
            ]
        )
        alert = [
            result.lead.pk
            for result in results.values()
            if result.assigned or result.lead.owner_id is None
        ]
        if alert:
            transaction.on_commit(lambda: tasks.new_leads_alert(alert))
    missing = [contact.pk for contact in contacts if contact.pk not in results]
    if missing:
        raise Contact.DoesNotExist(f"no contact {missing}")
    for contact in contacts:
        contact.owner = results[contact.pk].lead.owner
    return [results[contact.pk] for contact in contacts]


def _rules_active() -> list[AssignmentRule]:
    return list(
        AssignmentRule.objects.filter(active=True)
        .select_related("team")
        .prefetch_related("reps", "team__members")
    )


def _lead_assign_locked(
    locked: Contact,
    *,
    lead: SalesLead | None,
    mql_at: dt.datetime | None,
    turns: _Turns,
    owners: dict[int, int],
    new_leads: list[SalesLead],
) -> Assignment:
    """Assign one locked contact (``lead``: its sales lead, read after the lock); a new
    sales lead goes (unsaved, with its owner) in ``new_leads`` and the contact's new owner
    in ``owners``, for the caller to write with the batch's (an assigned lead's
    OwnerAssigned fact too)."""
    now = turns.now
    if lead is not None and lead.owner_id is not None:
        return Assignment(lead=lead, assigned=False)
    if lead is None:
        became_mql = mql_at or locked.stage_changed_at or now
        lead = SalesLead(
            contact=locked,
            mql_at=became_mql,
            sla_due_at=became_mql + dt.timedelta(hours=turns.sla_hours),
        )
        new_leads.append(lead)
    if locked.owner_id is not None:
        owner, rule = locked.owner, None
    else:
        rep, rule = _rep_choose(contact=locked, turns=turns)
        owner = rep.user if rep else None
    if owner is None:
        logger.warning("no sales rep can take contact %s now; it waits without an owner", locked.pk)
        return Assignment(lead=lead, assigned=False)
    lead.owner, lead.rule, lead.assigned_at = owner, rule, now
    if lead.pk is not None:
        lead.save(update_fields=["owner", "rule", "assigned_at"])
    if locked.owner_id != owner.pk:
        owners[locked.pk] = owner.pk
    return Assignment(lead=lead, assigned=True)


def leads_unowned_assign(*, limit: int = 200) -> int:
    """Try again to give an owner to open leads left without one (no rep was available or
    had room when they came), oldest MQL first, at most ``limit``; returns how many got one.

    Each goes through :func:`lead_assign` (its own transaction and notifications; the
    new-lead alert is sent once per lead whatever the number of tries). Leads whose contact
    is no longer an MQL or SQL are left alone.
    """
    waiting = list(
        SalesLead.objects.filter(
            owner__isnull=True,
            closed_at__isnull=True,
            contact__lifecycle_stage__in=[LifecycleStage.MQL, LifecycleStage.SQL],
        )
        .select_related("contact")
        .order_by("mql_at", "pk")[:limit]
    )
    assigned = sum(lead_assign(contact=lead.contact).assigned for lead in waiting)
    if assigned:
        logger.info("%s of %s leads waiting without an owner were assigned", assigned, len(waiting))
    return assigned


def lead_owner_set(*, contact: Contact, owner, actor=None) -> SalesLead | None:
    """Give a contact the owner a person chose (the lead's edit form, an import, the API):
    the one way an owner is set by hand, as :func:`lead_assign` is the way rules set one.

    Writes the contact's owner (ContactUpdated) and, once the contact was handed to sales,
    its sales lead's: that publishes OwnerAssigned (``rule_id`` None), whose handler emails
    the new owner that the lead is theirs (:func:`.handlers.notify_new_owner`). A contact not handed to sales yet keeps
    the owner until it is; :func:`lead_assign` then keeps it and publishes OwnerAssigned.
    ``owner=None`` takes the owner away: an open lead then waits for the round robin
    (:func:`leads_unowned_assign`). Giving the owner it already has changes and publishes
    nothing. Returns the contact's sales lead, if it has one.
    """
    owner_id = getattr(owner, "pk", None)
    now = timezone.now()
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        lead = SalesLead.objects.select_for_update().filter(contact=locked).first()
        contact_owner_set(contact=locked, owner=owner, actor=actor)
        if lead is not None and lead.owner_id != owner_id:
            lead.owner, lead.rule = owner, None
            lead.assigned_at = now if owner is not None else None
            lead.assignment_notified_at = None  # the new owner is told, once
            lead.save(update_fields=["owner", "rule", "assigned_at", "assignment_notified_at"])
            if owner is not None:
                events.publish(
                    OwnerAssigned(
                        lead_id=lead.pk,
                        contact_id=locked.pk,
                        owner_id=owner_id,
                        rule_id=None,
                        occurred_at=now,
                    )
                )
    logger.info(
        "contact %s given owner %s by user %s", contact.pk, owner_id, getattr(actor, "pk", None)
    )
    contact.owner = owner
    return lead


class _Turns:
    """The round robin of one assignment transaction: the reps locked once (all of them, in
    id order, so two transactions never wait on each other), their open leads counted once
    (for reps with a capacity) and kept up to date as leads are given, each pool locked
    once and written at the end (:meth:`save`)."""

    def __init__(self, *, rules: list[AssignmentRule], now: dt.datetime):
        self.rules, self.now = rules, now
        self.sla_hours = sla_hours()
        self._all_reps: list[SalesRep] | None = None
        self._pools: dict[str, RoundRobinPool] = {}
        self._reps: dict[int, SalesRep] | None = None
        self._open: dict[int, int] = {}

    def reps(self, rep_ids: Iterable[int]) -> list[SalesRep]:
        """The reps of ``rep_ids`` that can be given leads (weight, active user), locked."""
        if self._reps is None:
            # Before counting open leads: two assignments at once cannot both take a rep's
            # last free place.
            locked = list(
                SalesRep.objects.select_for_update(of=("self",))
                .select_related("user")
                .filter(weight__gt=0, user__is_active=True)
                .order_by("pk")
            )
            self._reps = {rep.pk: rep for rep in locked}
            capped = [rep.user_id for rep in locked if rep.capacity]
            if capped:
                self._open = dict(
                    SalesLead.objects.filter(owner_id__in=capped, closed_at__isnull=True)
                    .values_list("owner_id")
                    .annotate(count=Count("pk"))
                )
        return [self._reps[pk] for pk in sorted(set(rep_ids)) if pk in self._reps]

    def takers(self, contact: Contact) -> set[int]:
        """The reps whose own territories / segments / sources take ``contact``."""
        if self._all_reps is None:
            self._all_reps = list(SalesRep.objects.all())
        return {rep.pk for rep in self._all_reps if rep.takes(contact)}

    def has_room(self, rep: SalesRep) -> bool:
        return rep.capacity == 0 or self._open.get(rep.user_id, 0) < rep.capacity

    def given(self, rep: SalesRep) -> None:
        if rep.capacity:
            self._open[rep.user_id] = self._open.get(rep.user_id, 0) + 1

    def pool(self, key: str) -> RoundRobinPool:
        if key not in self._pools:
            RoundRobinPool.objects.get_or_create(key=key)
            self._pools[key] = RoundRobinPool.objects.select_for_update().get(key=key)
        return self._pools[key]

    def save(self) -> None:
        for pool in self._pools.values():
            pool.save(update_fields=["current_weights", "last_rep", "assigned_count", "updated_at"])


def _rep_choose(
    *, contact: Contact, turns: _Turns
) -> tuple[SalesRep | None, AssignmentRule | None]:
    for rule in turns.rules:
        if not rule.matches(contact):
            continue
        rep_ids = {rep.pk for rep in rule.reps.all()}
        if rule.team is not None:
            rep_ids |= {rep.pk for rep in rule.team.members.all()}
        rep = _round_robin(key=f"rule:{rule.pk}", rep_ids=rep_ids, turns=turns)
        if rep is not None:
            return rep, rule
    return _round_robin(
        key=RoundRobinPool.FALLBACK, rep_ids=turns.takers(contact), turns=turns
    ), None


def _round_robin(*, key: str, rep_ids: Iterable[int], turns: _Turns) -> SalesRep | None:
    """One turn of the smooth weighted round robin of a pool, over its eligible reps."""
    eligible = [
        rep for rep in turns.reps(rep_ids) if rep.is_available(turns.now) and turns.has_room(rep)
    ]
    if not eligible:
        return None
    pool = turns.pool(key)
    current = dict(pool.current_weights)
    chosen = None
    for rep in eligible:
        current[str(rep.pk)] = current.get(str(rep.pk), 0) + rep.weight
        if chosen is None or current[str(rep.pk)] > current[str(chosen.pk)]:
            chosen = rep
    current[str(chosen.pk)] -= sum(rep.weight for rep in eligible)
    pool.current_weights, pool.last_rep, pool.assigned_count = (
        current,
        chosen,
        pool.assigned_count + 1,
    )
    turns.given(chosen)
    return chosen


# --- Working a lead ------------------------------------------------------------------------


def activity_log(
    *,
    contact: Contact,
    user,
    kind: str,
    subject: str = "",
    body: str = "",
    occurred_at: dt.datetime | None = None,
    due_at: dt.datetime | None = None,
) -> Activity:
    """Record a call, email, meeting or note (or a task, with its due date) on a contact.

    The first call, email, meeting or note on a sales lead stops its speed-to-lead clock
    (an earlier one logged late moves it back). Raises ValidationFailed for an unknown kind.
    """
    if kind not in ActivityKind.values:
        raise ValidationFailed(
            _("Choose a call, email, meeting, note or task."), code="activity_kind"
        )
    if kind == ActivityKind.TASK and due_at is None:
        raise ValidationFailed(
            _("A task needs a due date."),
            code="task_due",
            field_errors={"due_at": [_("Required.")]},
        )
    occurred_at = occurred_at or timezone.now()
    with transaction.atomic():
        activity = Activity.objects.create(
            contact=contact,
            user=user,
            kind=kind,
            subject=subject[:200],
            body=body,
            occurred_at=occurred_at,
            due_at=due_at,
        )
        if kind in FIRST_TOUCH_KINDS:
            SalesLead.objects.filter(contact=contact).filter(
                Q(first_activity_at__isnull=True) | Q(first_activity_at__gt=occurred_at)
            ).update(first_activity_at=occurred_at)
        if kind in REACHING_OUT_KINDS:
            # Reaching out moves a new lead on: its status no longer says nobody tried.
            SalesLead.objects.filter(
                contact=contact, status=LeadStatus.NEW, closed_at__isnull=True
            ).update(status=LeadStatus.ATTEMPTING)
    return activity


def activity_task_done(*, activity: Activity, done: bool = True) -> Activity:
    """Tick a task done (or open again)."""
    with transaction.atomic():
        Activity.objects.filter(pk=activity.pk).update(done=done)
    activity.done = done
    return activity


def _lead_open_or_fail(lead: SalesLead) -> SalesLead:
    locked = SalesLead.objects.select_for_update().select_related("contact").get(pk=lead.pk)
    if locked.closed_at is not None:
        raise ValidationFailed(
            _("This lead is closed (disqualified, won or lost)."), code="lead_closed"
        )
    return locked


def lead_status_set(*, lead: SalesLead, status: str, user=None) -> SalesLead:
    """Set the sales status of an open lead (new, attempting, connected, qualified).

    Disqualifying has its own service, with a reason: :func:`lead_disqualify`.
    """
    if status not in LeadStatus.values or status == LeadStatus.DISQUALIFIED:
        raise ValidationFailed(
            _("Choose new, attempting, connected or qualified."), code="lead_status"
        )
    with transaction.atomic():
        locked = _lead_open_or_fail(lead)
        SalesLead.objects.filter(pk=locked.pk).update(status=status)
    lead.status = status
    logger.info("sales lead %s status %s by user %s", lead.pk, status, getattr(user, "pk", None))
    return lead


def _who(user) -> str:
    return user.get_username() if user is not None else _("sales")


def lead_accept(*, lead: SalesLead, user) -> SalesLead:
    """Sales accepts the lead: status qualified, and the contact becomes an SQL (cause
    "accepted by <user>", kept in its stage history). Raises ValidationFailed when closed."""
    with transaction.atomic():
        locked = _lead_open_or_fail(lead)
        SalesLead.objects.filter(pk=locked.pk).update(status=LeadStatus.QUALIFIED)
        contact_stage_change(
            contact=locked.contact,
            to_stage=LifecycleStage.SQL,
            cause=(_("accepted by %(user)s") % {"user": _who(user)})[:200],
            actor=user,
        )
    lead.status = LeadStatus.QUALIFIED
    return lead


def lead_disqualify(*, lead: SalesLead, user, reason: str) -> SalesLead:
    """Disqualify the lead with a reason: it closes, and the contact's stage becomes
    disqualified with that reason as the cause. Raises ValidationFailed without a reason."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            _("Say why the lead is disqualified."),
            code="reason_required",
            field_errors={"reason": [_("Required.")]},
        )
    now = timezone.now()
    with transaction.atomic():
        locked = _lead_open_or_fail(lead)
        SalesLead.objects.filter(pk=locked.pk).update(
            status=LeadStatus.DISQUALIFIED, disqualify_reason=reason[:200], closed_at=now
        )
        contact_stage_change(
            contact=locked.contact,
            to_stage=LifecycleStage.DISQUALIFIED,
            cause=(
                _("disqualified by %(user)s: %(reason)s") % {"user": _who(user), "reason": reason}
            )[:200],
            actor=user,
            at=now,
        )
    lead.status, lead.disqualify_reason, lead.closed_at = LeadStatus.DISQUALIFIED, reason[:200], now
    return lead


def outcome_record(
    *,
    lead: SalesLead,
    user,
    outcome: str,
    value: Decimal | None = None,
    at: dt.datetime | None = None,
    reason: str = "",
) -> SalesLead:
    """Record how the lead ended and close it.

    Won: the contact's outcome is won with ``value`` and date ``at`` (default now) and its
    stage becomes customer (cause "won by <user>"). Lost: the outcome is lost with ``reason``
    (required); the stage stays. Raises ValidationFailed for a negative value, a lost outcome
    without a reason, or a lead already closed.
    """
    reason = _outcome_check(outcome=outcome, value=value, reason=reason)
    now = timezone.now()
    at = at or now
    with transaction.atomic():
        locked = _lead_open_or_fail(lead)
        _outcome_write(
            contact=locked.contact,
            user=user,
            outcome=outcome,
            value=value,
            at=at,
            reason=reason,
            now=now,
        )
        SalesLead.objects.filter(pk=locked.pk).update(closed_at=now)
    lead.closed_at = now
    return lead


def _outcome_check(*, outcome: str, value: Decimal | None, reason: str) -> str:
    if outcome not in (Outcome.WON, Outcome.LOST):
        raise ValidationFailed(_("Choose won or lost."), code="outcome")
    if value is not None and value < 0:
        raise ValidationFailed(
            _("The value cannot be negative."),
            code="value",
            field_errors={"value": [_("Must be 0 or more.")]},
        )
    reason = reason.strip()
    if outcome == Outcome.LOST and not reason:
        raise ValidationFailed(
            _("Say why the lead was lost."),
            code="reason_required",
            field_errors={"reason": [_("Required.")]},
        )
    return reason


def _outcome_write(
    *,
    contact: Contact,
    user,
    outcome: str,
    value: Decimal | None,
    at: dt.datetime,
    reason: str,
    now: dt.datetime,
) -> None:
    contact_update(
        contact=contact,
        changes={
            "outcome": outcome,
            "outcome_value": value,
            "outcome_at": at,
            "outcome_reason": reason[:200],
        },
        actor=user,
    )
    if outcome == Outcome.WON:
        contact_stage_change(
            contact=contact,
            to_stage=LifecycleStage.CUSTOMER,
            cause=(_("won by %(user)s") % {"user": _who(user)})[:200],
            actor=user,
            at=now,
        )


def contact_outcome_record(
    *,
    contact: Contact,
    user=None,
    outcome: str,
    value: Decimal | None = None,
    at: dt.datetime | None = None,
    reason: str = "",
) -> SalesLead | None:
    """:func:`outcome_record` for any contact (a CRM reporting a deal through the API): a
    contact handed to sales has its open sales lead closed as :func:`outcome_record` does;
    one never handed to sales gets the outcome (and, when won, the customer stage) alone.
    Returns the sales lead, if any. Raises ValidationFailed as :func:`outcome_record` does,
    Conflict (``lead_closed``) when its sales lead is closed already."""
    lead = SalesLead.objects.filter(contact=contact).first()
    if lead is not None:
        if lead.closed_at is not None:
            raise Conflict(
                _("This lead is closed (disqualified, won or lost)."), code="lead_closed"
            )
        return outcome_record(
            lead=lead, user=user, outcome=outcome, value=value, at=at, reason=reason
        )
    reason = _outcome_check(outcome=outcome, value=value, reason=reason)
    now = timezone.now()
    with transaction.atomic():
        _outcome_write(
            contact=contact,
            user=user,
            outcome=outcome,
            value=value,
            at=at or now,
            reason=reason,
            now=now,
        )
    return None
