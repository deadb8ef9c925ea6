"""Reads of the sales app: a rep's leads hottest first, speed-to-lead, settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Case, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.utils import timezone
from wagtail import hooks

from leadmill.capture.models import Submission
from leadmill.contacts.models import Contact, Temperature
from leadmill.core.registry import TimelineEntry

from .models import Activity, SalesLead, SalesSettings

# Apps may explain a lead's heat (e.g. scoring's top reasons) without sales importing them:
# ``@hooks.register(LEAD_REASONS_HOOK) def fn(contact) -> list[str]`` (sentences, best first).
LEAD_REASONS_HOOK = "leadmill_sales_lead_reasons"

_TEMPERATURE_RANK = Case(
    When(contact__temperature=Temperature.HOT, then=Value(3)),
    When(contact__temperature=Temperature.WARM, then=Value(2)),
    default=Value(1),
    output_field=IntegerField(),
)


def sales_settings() -> SalesSettings:
    return SalesSettings.load()


def sla_hours() -> int:
    """Hours from MQL to the first sales activity: the back-office setting, else
    ``LEADMILL_SALES_SLA_HOURS`` (default 4)."""
    configured = sales_settings().sla_hours
    return configured if configured else settings.LEADMILL_SALES_SLA_HOURS


def new_lead_alert_email() -> str:
    """Where new-lead alerts go: the back-office setting, else ``LEADMILL_NEW_LEAD_ALERT_EMAIL``."""
    return sales_settings().new_lead_alert_email or settings.LEADMILL_NEW_LEAD_ALERT_EMAIL


def leads_open_for(*, user, include_closed: bool = False) -> QuerySet[SalesLead]:
    """The leads a rep owns, hottest first (hot > warm > cold), then the most recently assigned.

    Each row carries ``temperature_rank``, ``last_submission_at`` and ``last_submission_form``
    (the lead's latest accepted form post), so a listing needs no query per row.
    """
    last_submission = Submission.objects.filter(
        contact=OuterRef("contact"), status=Submission.Status.ACCEPTED
    ).order_by("-created_at", "-id")
    queryset = SalesLead.objects.filter(owner=user)
    if not include_closed:
        queryset = queryset.filter(closed_at__isnull=True)
    return (
        queryset.select_related("contact", "contact__company")
        .annotate(
            temperature_rank=_TEMPERATURE_RANK,
            last_submission_at=Subquery(last_submission.values("created_at")[:1]),
            last_submission_form=Subquery(last_submission.values("form__name")[:1]),
        )
        .order_by("-temperature_rank", "-assigned_at", "-id")
    )


def open_lead_count(*, user_id: int) -> int:
    return SalesLead.objects.filter(owner_id=user_id, closed_at__isnull=True).count()


def lead_reasons(*, contact: Contact) -> list[str]:
    """Why a lead is hot, from every app that registered the hook (none yet: an empty list)."""
    reasons: list[str] = []
    for hook in hooks.get_hooks(LEAD_REASONS_HOOK):
        reasons.extend(hook(contact) or [])
    return reasons


def contact_activities(*, contact_id: int, limit: int = 50) -> QuerySet[Activity]:
    return Activity.objects.filter(contact_id=contact_id).select_related("user")[:limit]


@dataclass(frozen=True)
class SpeedToLead:
    leads: int  # leads with a first activity
    median: dt.timedelta | None
    within_sla: int


def speed_to_lead(*, since: dt.datetime | None = None) -> SpeedToLead:
    """Speed-to-lead over leads that became MQL since ``since``: median and count within SLA."""
    queryset = SalesLead.objects.filter(first_activity_at__isnull=False)
    if since is not None:
        queryset = queryset.filter(mql_at__gte=since)
    rows = list(queryset.values_list("mql_at", "first_activity_at", "sla_due_at"))
    if not rows:
        return SpeedToLead(leads=0, median=None, within_sla=0)
    durations = sorted(first - mql for mql, first, _due in rows)
    middle = len(durations) // 2
    median = (
        durations[middle] if len(durations) % 2 else (durations[middle - 1] + durations[middle]) / 2
    )
    return SpeedToLead(
        leads=len(rows),
        median=median,
        within_sla=sum(1 for _mql, first, due in rows if first <= due),
    )


def leads_sla_overdue(*, now: dt.datetime | None = None, limit: int = 500) -> QuerySet[SalesLead]:
    """Open, owned leads past their SLA with no activity yet and no warning sent."""
    return SalesLead.objects.filter(
        closed_at__isnull=True,
        owner__isnull=False,
        first_activity_at__isnull=True,
        sla_warned_at__isnull=True,
        sla_due_at__lt=now or timezone.now(),
    ).order_by("sla_due_at")[:limit]


def activity_timeline(contact_id: int) -> list[TimelineEntry]:
    """The contact timeline's sales part: each call, email, meeting, note and task."""
    entries = []
    for activity in Activity.objects.filter(contact_id=contact_id).select_related("user")[:200]:
        who = activity.user.get_username() if activity.user else ""
        title = (
            f"{activity.get_kind_display()}: {activity.subject}"
            if activity.subject
            else activity.get_kind_display()
        )
        entries.append(
            TimelineEntry(
                occurred_at=activity.occurred_at,
                kind=f"sales_{activity.kind}",
                title=f"{title} ({who})" if who else title,
                detail=activity.body[:500],
            )
        )
    return entries
