"""The weekly analytics digest: last week's funnel beside the week before, emailed to the
users chosen for it (``DigestRecipient``), each in their own back-office language.

Sent through messaging's transactional email (the message log, the send queue's retries).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from wagtail.users.models import UserProfile

from leadmill.messaging.services import TransactionalEmail, emails_send_transactional

from . import charts, selectors
from .definitions import DEFINITIONS
from .models import DigestRecipient

STAGES = ("visitors", "leads", "mqls", "sqls", "customers")
STAGE_NAMES = {
    "visitors": lambda: _("Visitors"),
    "leads": lambda: _("Leads"),
    "mqls": lambda: _("MQLs"),
    "sqls": lambda: _("SQLs"),
    "customers": lambda: _("Customers"),
}


def digest_week(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last full week (Monday to Sunday) before ``today``."""
    monday = today - dt.timedelta(days=today.weekday() + 7)
    return monday, monday + dt.timedelta(days=6)


def _change(now: int, before: int) -> str:
    if not before:
        return "—"
    change = (now - before) / before
    return ("+" if change > 0 else "") + charts.percent(change)


def _digest(*, since: dt.date, until: dt.date, current: dict, previous: dict) -> dict:
    """Subject, HTML and text of the digest in the active language."""
    rows = [
        {
            "label": STAGE_NAMES[key](),
            "value": charts.number(current["total"][key]),
            "before": charts.number(previous["total"][key]),
            "change": _change(current["total"][key], previous["total"][key]),
            "help": DEFINITIONS[key],
        }
        for key in STAGES
    ]
    context = {
        "since": since,
        "until": until,
        "rows": rows,
        "rate": charts.percent(current["total"]["visitor_to_lead_rate"]),
        "reference": charts.percent(current["reference_visitor_to_lead_rate"]),
        "spend": charts.money(current["total"]["spend"]),
        "cost_per_lead": charts.money(current["total"]["cost_per_lead"]),
        "currency": current["currency"],
        "url": settings.BASE_URL
        + reverse("analytics_dashboard")
        + f"?since={since.isoformat()}&until={until.isoformat()}&compare=on",
    }
    subject = _("Leadmill weekly: %(leads)s leads (%(change)s)") % {
        "leads": rows[1]["value"],
        "change": rows[1]["change"],
    }
    return {
        "subject": subject,
        "html": render_to_string("analytics/email/digest.html", context),
        "text": render_to_string("analytics/email/digest.txt", context),
    }


def digests_send(*, today: dt.date | None = None) -> int:
    """Email last week's digest to every recipient not sent that week yet; returns how many
    were sent. Idempotent per week: a repeated or retried run sends nobody twice. Users
    without an email address or no longer active are skipped."""
    today = today or timezone.localdate()
    since, until = digest_week(today)
    recipients = list(
        DigestRecipient.objects.select_related("user")
        .filter(user__is_active=True)
        .exclude(user__email="")
        .exclude(last_week_sent__gte=since)
    )
    if not recipients:
        return 0
    before_since, before_until = since - dt.timedelta(days=7), since - dt.timedelta(days=1)
    current = selectors.funnel(since=since, until=until)
    previous = selectors.funnel(since=before_since, until=before_until)
    emails = []
    for recipient in recipients:
        language = UserProfile.get_for_user(recipient.user).get_preferred_language()
        with translation.override(language):
            digest = _digest(since=since, until=until, current=current, previous=previous)
        emails.append(
            TransactionalEmail(
                to=recipient.user.email,
                subject=digest["subject"],
                html=digest["html"],
                text=digest["text"],
                category="analytics_digest",
            )
        )
    with transaction.atomic():
        DigestRecipient.objects.filter(pk__in=[r.pk for r in recipients]).update(
            last_week_sent=since
        )
    emails_send_transactional(emails=emails)
    return len(emails)
