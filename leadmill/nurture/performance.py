"""Nurture performance, per sequence, email step and broadcast (docs/analytics.md, "Nurture
performance"): what the emails did, how many of the leads they reached converted, and the
leads captured through their links.

**Credited leads.** A lead is credited to an email (a broadcast's, a step's) when one of
its accepted submissions came within the window after a person clicked a link of that
email (mail scanners' clicks never count), and either the submission came from the browser
that clicked (the click keeps its ``lm_vid``, ADR 57) or its lead is the one the email was
sent to. When several clicks qualify, the *last* one before the submission gets the credit,
so one submission is never credited to two emails. A lead counts once per email, from its
first credited submission; its conversions are counted within the window after that
submission. It is a **new lead** when it was created after the click.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from leadmill.capture.models import Submission
from leadmill.contacts.models import Contact, StageChange
from leadmill.messaging.models import Message
from leadmill.tracking.models import Event, EventType

from .models import Broadcast, Enrollment, Sequence
from .selectors import UPLIFT_STAGES, step_name

CHUNK = 1000


@dataclass(frozen=True)
class CapturedLeads:
    """The leads credited to an email or a set of emails (see the module's docstring):
    ``leads``, of which ``new_leads`` created after the click, and how many of them reached
    MQL / SQL / customer (or a later stage) within the window after the credited submission."""

    leads: int = 0
    new_leads: int = 0
    mql: int = 0
    sql: int = 0
    customer: int = 0

    @property
    def conversions(self) -> dict[str, int]:
        return {"mql": self.mql, "sql": self.sql, "customer": self.customer}


@dataclass(frozen=True)
class EmailCounts:
    """What happened to a set of marketing emails (docs/analytics.md, "Nurture").

    ``sent``, ``delivered`` (sent and not bounced) and ``bounced`` count emails; ``opened``,
    ``clicked``, ``unsubscribed`` and ``complained`` count leads, once each (unique), from
    the first human open and click (mail scanners never set them)."""

    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    complained: int = 0


@dataclass(frozen=True)
class PerformanceRow:
    """One step, one broadcast or the whole sequence: who it reached, what the emails did,
    how many of those leads became MQL, SQL and customer within the window after, and the
    leads captured through its links (``captured``)."""

    key: str
    label: str
    enrolled: int
    emails: EmailCounts
    conversions: dict[str, int]
    captured: CapturedLeads = CapturedLeads()


def _email_counts(messages: QuerySet[Message], *, group_by: str | None = None):
    """EmailCounts of ``messages`` (marketing), in one query; per ``group_by`` value if given."""
    sent = Q(status=Message.Status.SENT)
    aggregates = {
        "sent": Count("id", filter=sent),
        "bounced": Count("id", filter=sent & Q(bounced_at__isnull=False)),
        "opened": Count("contact_id", filter=Q(opened_at__isnull=False), distinct=True),
        "clicked": Count("contact_id", filter=Q(clicked_at__isnull=False), distinct=True),
        "unsubscribed": Count("contact_id", filter=Q(unsubscribed_at__isnull=False), distinct=True),
        "complained": Count("contact_id", filter=Q(complained_at__isnull=False), distinct=True),
    }
    messages = messages.filter(kind=Message.Kind.MARKETING)

    def counts(row) -> EmailCounts:
        return EmailCounts(
            sent=row["sent"],
            delivered=row["sent"] - row["bounced"],
            bounced=row["bounced"],
            opened=row["opened"],
            clicked=row["clicked"],
            unsubscribed=row["unsubscribed"],
            complained=row["complained"],
        )

    if group_by is None:
        return counts(messages.aggregate(**aggregates))
    return {
        row[group_by]: counts(row)
        for row in messages.values(group_by).annotate(**aggregates).order_by()
    }


def stages_reached_within(
    starts: list[tuple[int, dt.datetime]], *, window_days: int
) -> dict[str, int]:
    """Per stage (MQL, SQL, customer): how many distinct leads of ``starts`` (a lead and when
    it entered: enrolled, or was sent the email) reached that stage or a later one between
    then and ``window_days`` days after, from the stored stage history."""
    window = dt.timedelta(days=window_days)
    changes: dict[int, list[tuple[str, dt.datetime]]] = {}
    contact_ids = sorted({contact_id for contact_id, _at in starts})
    for offset in range(0, len(contact_ids), 1000):
        for contact_id, to_stage, changed_at in StageChange.objects.filter(
            contact_id__in=contact_ids[offset : offset + 1000],
            to_stage__in=[stage.value for stage in UPLIFT_STAGES],
        ).values_list("contact_id", "to_stage", "changed_at"):
            changes.setdefault(contact_id, []).append((to_stage, changed_at))
    result = {}
    for index, stage in enumerate(UPLIFT_STAGES):
        later = {s.value for s in UPLIFT_STAGES[index:]}
        result[stage.value] = len(
            {
                contact_id
                for contact_id, start in starts
                if any(
                    to_stage in later and start <= changed_at <= start + window
                    for to_stage, changed_at in changes.get(contact_id, ())
                )
            }
        )
    return result


def _chunks(values) -> list[list]:
    values = sorted(values)
    return [values[start : start + CHUNK] for start in range(0, len(values), CHUNK)]


def _human_clicks(condition: Q) -> list[tuple[int, int | None, str, dt.datetime]]:
    """(message id, lead, visitor id, when) of the human email clicks matching ``condition``."""
    rows = Event.objects.filter(condition, type=EventType.EMAIL_CLICK, is_bot=False).values_list(
        "properties", "contact_id", "occurred_at"
    )
    return [
        (properties["message_id"], contact_id, properties.get("visitor_id") or "", occurred_at)
        for properties, contact_id, occurred_at in rows
        if isinstance(properties.get("message_id"), int)
    ]


def captured_leads(
    *, messages: QuerySet[Message], window_days: int, group_by: str | None = None
) -> dict[Hashable, CapturedLeads]:
    """The leads credited to ``messages`` (marketing emails; see the module's docstring),
    per value of their ``group_by`` field (``step_id``…), or all as one group (key None).
    Groups with no credited lead are absent."""
    window = dt.timedelta(days=window_days)
    clicked = dict(
        messages.filter(kind=Message.Kind.MARKETING, clicked_at__isnull=False).values_list(
            "pk", group_by or "kind"
        )
    )
    if not group_by:
        clicked = dict.fromkeys(clicked)
    clicks = [
        click
        for chunk in _chunks(clicked)
        for click in _human_clicks(Q(properties__message_id__in=chunk))
    ]
    if not clicks:
        return {}
    since = min(at for _m, _c, _v, at in clicks)
    until = max(at for _m, _c, _v, at in clicks) + window
    accepted = Submission.objects.filter(
        status=Submission.Status.ACCEPTED,
        contact_id__isnull=False,
        created_at__gte=since,
        created_at__lte=until,
    )
    submissions: dict[int, tuple[int, str, dt.datetime]] = {}
    visitors = {visitor for _m, _c, visitor, _at in clicks if visitor}
    recipients = {contact for _m, contact, _v, _at in clicks if contact is not None}
    for chunk in _chunks(visitors):
        for pk, *row in accepted.filter(visitor_id__in=chunk).values_list(
            "pk", "contact_id", "visitor_id", "created_at"
        ):
            submissions[pk] = tuple(row)
    for chunk in _chunks(recipients):
        for pk, *row in accepted.filter(contact_id__in=chunk).values_list(
            "pk", "contact_id", "visitor_id", "created_at"
        ):
            submissions[pk] = tuple(row)
    # Every human email click of these browsers and leads, whatever the email: a later click
    # of another email takes the credit of what follows it.
    candidates: set[tuple[int, int | None, str, dt.datetime]] = set()
    between = Q(occurred_at__gte=since, occurred_at__lte=until)
    for chunk in _chunks({visitor for _c, visitor, _at in submissions.values() if visitor}):
        candidates.update(_human_clicks(between & Q(properties__visitor_id__in=chunk)))
    for chunk in _chunks({contact for contact, _v, _at in submissions.values()}):
        candidates.update(_human_clicks(between & Q(contact_id__in=chunk)))
    by_visitor: dict[str, list] = {}
    by_contact: dict[int, list] = {}
    for click in candidates:
        if click[2]:
            by_visitor.setdefault(click[2], []).append(click)
        if click[1] is not None:
            by_contact.setdefault(click[1], []).append(click)
    credited: dict[Hashable, dict[int, tuple[dt.datetime, dt.datetime]]] = {}
    for contact, visitor, submitted_at in sorted(submissions.values(), key=lambda s: s[2]):
        mine = by_contact.get(contact, []) + (by_visitor.get(visitor, []) if visitor else [])
        last = max(
            (click for click in mine if click[3] <= submitted_at <= click[3] + window),
            key=lambda click: (click[3], click[0]),
            default=None,
        )
        if last is None or last[0] not in clicked:
            continue
        credited.setdefault(clicked[last[0]], {}).setdefault(contact, (last[3], submitted_at))
    created = {}
    for chunk in _chunks({contact for leads in credited.values() for contact in leads}):
        created.update(Contact.objects.filter(pk__in=chunk).values_list("pk", "created_at"))
    result = {}
    for key, leads in credited.items():
        reached = stages_reached_within(
            [(contact, submitted_at) for contact, (_click, submitted_at) in leads.items()],
            window_days=window_days,
        )
        result[key] = CapturedLeads(
            leads=len(leads),
            new_leads=sum(
                1
                for contact, (clicked_at, _s) in leads.items()
                if contact in created and created[contact] >= clicked_at
            ),
            **reached,
        )
    return result


def sequence_performance(*, sequence: Sequence, window_days: int) -> list[PerformanceRow]:
    """The sequence's performance: first the whole sequence (its nurtured enrolments, the
    emails of all its steps, conversions within ``window_days`` of enrolment), then one row
    per email step (the leads sent it, conversions within ``window_days`` of the send).
    Held-out enrolments are not in these rows: the uplift report compares them. Each row
    also has the leads captured through its emails' links (``captured``)."""
    nurtured = Enrollment.objects.filter(sequence=sequence, held_out=False)
    enrolled = list(nurtured.values_list("contact_id", "enrolled_at"))
    messages = Message.objects.filter(enrollment_id__in=nurtured.values("pk"))
    rows = [
        PerformanceRow(
            key="",
            label=_("The whole sequence"),
            enrolled=len(enrolled),
            emails=_email_counts(messages),
            conversions=stages_reached_within(enrolled, window_days=window_days),
            captured=captured_leads(messages=messages, window_days=window_days).get(
                None, CapturedLeads()
            ),
        )
    ]
    per_step = _email_counts(messages, group_by="step_id")
    captured_per_step = captured_leads(
        messages=messages, window_days=window_days, group_by="step_id"
    )
    sends: dict[str, list[tuple[int, dt.datetime]]] = {}
    reached: dict[str, set[int]] = {}
    for step_id, enrollment_id, contact_id, sent_at in messages.filter(
        kind=Message.Kind.MARKETING
    ).values_list("step_id", "enrollment_id", "contact_id", "sent_at"):
        reached.setdefault(step_id, set()).add(enrollment_id)
        if sent_at is not None and contact_id is not None:
            sends.setdefault(step_id, []).append((contact_id, sent_at))
    for child in sequence.steps.raw_data:
        if child["type"] != "send_email" and child["id"] not in per_step:
            continue
        rows.append(
            PerformanceRow(
                key=child["id"],
                label=step_name(sequence, child["id"]),
                enrolled=len(reached.get(child["id"], ())),
                emails=per_step.get(child["id"], EmailCounts()),
                conversions=stages_reached_within(
                    sends.get(child["id"], []), window_days=window_days
                ),
                captured=captured_per_step.get(child["id"], CapturedLeads()),
            )
        )
    return rows


def broadcast_performance(*, broadcast_id: int, window_days: int) -> PerformanceRow:
    """A broadcast's performance: the leads it was queued for (``enrolled``), what its emails
    did, how many of the leads sent it converted within ``window_days`` of the send, and the
    leads captured through its links (``captured``)."""
    broadcast = Broadcast.objects.get(pk=broadcast_id)
    messages = Message.objects.filter(broadcast_id=broadcast_id)
    sends = [
        (contact_id, sent_at)
        for contact_id, sent_at in messages.filter(kind=Message.Kind.MARKETING).values_list(
            "contact_id", "sent_at"
        )
        if contact_id is not None and sent_at is not None
    ]
    return PerformanceRow(
        key=str(broadcast_id),
        label=broadcast.name,
        enrolled=messages.count(),
        emails=_email_counts(messages),
        conversions=stages_reached_within(sends, window_days=window_days),
        captured=captured_leads(messages=messages, window_days=window_days).get(
            None, CapturedLeads()
        ),
    )
