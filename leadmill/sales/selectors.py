"""Reads of the sales app: a rep's leads hottest first, speed-to-lead, settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import (
    Case,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from wagtail import hooks

from leadmill.capture.models import Submission
from leadmill.contacts.models import Contact, LifecycleStage, Outcome, Temperature
from leadmill.core.registry import TimelineEntry
from leadmill.scoring.models import ContactScore

from .models import Activity, SalesLead, SalesSettings

# Apps may explain a lead's heat (e.g. scoring's top reasons) without sales importing them:
# ``@hooks.register(LEAD_REASONS_HOOK) def fn(contact) -> list[str]`` (sentences, best first).
LEAD_REASONS_HOOK = "leadmill_sales_lead_reasons"

_TEMPERATURE_RANK = Case(
    When(temperature=Temperature.HOT, then=Value(3)),
    When(temperature=Temperature.WARM, then=Value(2)),
    default=Value(1),
    output_field=IntegerField(),
)
# A lead stops needing its owner once it is won, lost, a customer or disqualified.
CLOSED_STAGES = (LifecycleStage.CUSTOMER, LifecycleStage.DISQUALIFIED)


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


def leads_open_for(*, user, include_closed: bool = False) -> QuerySet[Contact]:
    """Every lead ``user`` owns that needs them, hottest first ("My leads").

    Owned: the lead's owner, or the owner of its sales lead. Needs them: not won or lost,
    not a customer, not disqualified, and its sales lead (once handed to sales) not closed;
    whatever the lifecycle stage otherwise (a lead given to a rep by hand before it is an
    MQL is theirs to work too). ``include_closed`` shows the others as well.

    Hottest first: hot, warm, cold; then the higher score (fit plus engagement as last
    scored); then the most recently assigned. Each row carries ``sales_lead`` (None before
    the lead was handed to sales), ``temperature_rank``, ``score_total``,
    ``last_submission_at`` and ``last_submission_form``, so the listing needs no query
    per row.
    """
    last_submission = Submission.objects.filter(
        contact=OuterRef("pk"), status=Submission.Status.ACCEPTED
    ).order_by("-created_at", "-id")
    score = ContactScore.objects.filter(contact=OuterRef("pk"))
    queryset = Contact.objects.filter(Q(owner=user) | Q(sales_lead__owner=user))
    if not include_closed:
        queryset = queryset.filter(
            Q(sales_lead__isnull=True) | Q(sales_lead__closed_at__isnull=True),
            outcome=Outcome.OPEN,
        ).exclude(lifecycle_stage__in=CLOSED_STAGES)
    return (
        queryset.select_related("company", "sales_lead")
        .annotate(
            temperature_rank=_TEMPERATURE_RANK,
            score_total=Coalesce(
                Subquery(
                    score.annotate(
                        total=ExpressionWrapper(
                            F("fit_score") + F("engagement_score"), output_field=FloatField()
                        )
                    ).values("total")[:1]
                ),
                Value(0.0),
                output_field=FloatField(),
            ),
            last_submission_at=Subquery(last_submission.values("created_at")[:1]),
            last_submission_form=Subquery(last_submission.values("form__name")[:1]),
        )
        .order_by(
            "-temperature_rank",
            "-score_total",
            F("sales_lead__assigned_at").desc(nulls_last=True),
            "-id",
        )
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
