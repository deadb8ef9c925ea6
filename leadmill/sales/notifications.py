"""Emails of the sales app: the owner's "new lead for you", the new-lead alert, the SLA warning,
and the message of a sequence's "notify owner" step.

Each is sent at most once per lead: a claim (a timestamp written only where it is still
empty) comes before the send, and is released if sending fails so a retry can send it.
Called from tasks (after commit), never inside a service's transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _

from leadmill.contacts.models import Contact
from leadmill.messaging.emails import slot_marker, slots_fill, slots_split
from leadmill.messaging.services import (
    TransactionalEmail,
    email_send_transactional,
    emails_send_transactional,
)
from leadmill.nurture.events import OwnerNotificationRequested
from leadmill.nurture.models import Sequence

from .models import OwnerNotification, SalesLead
from .selectors import leads_sla_overdue, new_lead_alert_email, sla_hours

logger = logging.getLogger(__name__)


def _claim(lead_ids: list[int], field: str) -> set[int]:
    """Write ``field`` (now) on the leads of ``lead_ids`` where it is still empty; returns
    the ids this call claimed (one ``UPDATE … RETURNING``: a lead claimed by another
    delivery first is left out)."""
    if not lead_ids:
        return set()
    column = connection.ops.quote_name(SalesLead._meta.get_field(field).column)
    table = connection.ops.quote_name(SalesLead._meta.db_table)
    sql = (
        f"UPDATE {table} SET {column} = %s "  # noqa: S608 -- our quoted names, bound values
        f"WHERE id IN ({', '.join(['%s'] * len(lead_ids))}) AND {column} IS NULL RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(timezone.now()), *lead_ids])
        return {row[0] for row in cursor.fetchall()}


def _release(lead_id: int, field: str) -> None:
    SalesLead.objects.filter(pk=lead_id).update(**{field: None})


def _send_once(
    leads: list[SalesLead], field: str, *, email_of: Callable[[SalesLead], TransactionalEmail]
) -> int:
    """Claim ``field`` of each lead, then send the claimed leads' emails over one mail
    connection; a failure before the send releases every claim (a retry sends them).
    Returns how many were sent."""
    mine = _claim([lead.pk for lead in leads], field)
    claimed = [lead for lead in leads if lead.pk in mine]
    if not claimed:
        return 0
    try:
        emails_send_transactional(emails=[email_of(lead) for lead in claimed])
    except Exception:
        for lead in claimed:
            _release(lead.pk, field)
        raise
    return len(claimed)


def _email(*, to: str, subject: str, template: str, context: dict) -> TransactionalEmail:
    return TransactionalEmail(
        to=to,
        subject=subject,
        html=render_to_string(f"sales/email/{template}.html", context),
        text=render_to_string(f"sales/email/{template}.txt", context),
    )


def _context(lead: SalesLead) -> dict:
    contact = lead.contact
    return {
        "lead": lead,
        "contact": contact,
        "owner": lead.owner,
        "label": str(contact),
        "my_leads_url": settings.BASE_URL + reverse("sales_my_leads"),
        "lead_url": settings.BASE_URL + reverse("leads:inspect", args=[contact.pk]),
    }


def _leads(lead_ids: list[int]) -> list[SalesLead]:
    return list(
        SalesLead.objects.select_related("contact", "owner").filter(pk__in=lead_ids).order_by("pk")
    )


def lead_assigned_send(*, lead_id: int) -> bool:
    """:func:`leads_assigned_send` for one lead. Returns True if sent."""
    return leads_assigned_send(lead_ids=[lead_id]) == 1


def leads_assigned_send(*, lead_ids: list[int]) -> int:
    """Tell each lead's owner the lead is theirs, with what makes it worth a call: once
    per lead, one mail connection for all. Returns how many were sent."""
    hours = sla_hours()
    my_leads_url = settings.BASE_URL + reverse("sales_my_leads")
    return _send_once(
        [lead for lead in _leads(lead_ids) if lead.owner is not None and lead.owner.email],
        "assignment_notified_at",
        email_of=lambda lead: TransactionalEmail(
            to=lead.owner.email,
            subject=_("New lead for you: %(lead)s") % {"lead": lead.contact},
            **lead_assigned_parts(lead_assigned_values(lead, my_leads_url=my_leads_url), hours),
        ),
    )


# The owner's "new lead for you" goes out for every lead: its templates are rendered once per
# language and shape (owner named or not, the SLA's hours) with markers where the lead's
# values go, and each email is those parts joined around its values, escaped in the HTML —
# what rendering the templates with the values gives, without their ~20 translation
# lookups and variable resolutions per email (ADR 50).
_LEAD_ASSIGNED_SLOTS = (
    "name",
    "label",
    "email",
    "phone",
    "company",
    "temperature",
    "stage",
    "source",
    "lead_url",
    "my_leads_url",
)
_lead_assigned_shapes: dict[tuple, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {}
_SHAPES_KEPT = 64


def lead_assigned_values(lead: SalesLead, *, my_leads_url: str) -> dict[str, str]:
    """What the owner's "new lead for you" email says of ``lead`` (each slot's text)."""
    contact = lead.contact
    return {
        "name": lead.owner.first_name,
        "label": str(contact),
        "email": contact.email or "—",
        "phone": contact.phone or "—",
        "company": contact.company_name or "—",
        "temperature": str(contact.get_temperature_display()),
        "stage": str(contact.get_lifecycle_stage_display()),
        "source": contact.first_source or "—",
        "lead_url": settings.BASE_URL + reverse("leads:inspect", args=[contact.pk]),
        "my_leads_url": my_leads_url,
    }


def _lead_assigned_shape(*, named: bool, hours: int) -> dict:
    """The HTML and text templates in the active language, split around their slots."""
    key = (translation.get_language(), named, hours)
    shape = _lead_assigned_shapes.get(key)
    if shape is None:
        markers = {slot: slot_marker(slot) for slot in _LEAD_ASSIGNED_SLOTS}
        if not named:
            markers["name"] = ""
        shape = {
            kind: slots_split(
                render_to_string(
                    f"sales/email/lead_assigned.{kind}", {**markers, "sla_hours": hours}
                )
            )
            for kind in ("html", "txt")
        }
        if len(_lead_assigned_shapes) >= _SHAPES_KEPT:
            _lead_assigned_shapes.clear()
        _lead_assigned_shapes[key] = shape
    return shape


def lead_assigned_parts(values: dict[str, str], hours: int) -> dict[str, str]:
    """The ``html`` and ``text`` of the owner's email with ``values`` in the active language:
    the parts of ``sales/email/lead_assigned.*`` rendered with them."""
    shape = _lead_assigned_shape(named=bool(values["name"]), hours=hours)
    escaped = {name: escape(value) for name, value in values.items()}
    parts = {"html": slots_fill(shape["html"], escaped), "text": slots_fill(shape["txt"], values)}
    return parts


def new_lead_alert_send(*, lead_id: int) -> bool:
    """:func:`new_leads_alert_send` for one lead. Returns True if sent."""
    return new_leads_alert_send(lead_ids=[lead_id]) == 1


def new_leads_alert_send(*, lead_ids: list[int]) -> int:
    """Announce leads handed to sales to the chosen address (none configured: nothing),
    once per lead. Returns how many were sent."""
    to = new_lead_alert_email()
    if not to:
        return 0
    return _send_once(
        _leads(lead_ids),
        "alert_sent_at",
        email_of=lambda lead: _email(
            to=to,
            subject=_("New sales lead: %(lead)s") % {"lead": lead.contact},
            template="new_lead_alert",
            context=_context(lead),
        ),
    )


def sla_warnings_send(*, now: dt.datetime | None = None) -> int:
    """Warn each owner whose lead passed its SLA with no activity; once per lead. Returns how many."""
    sent = 0
    for lead in leads_sla_overdue(now=now).select_related("contact", "owner"):
        if not lead.owner.email:
            continue
        try:
            sent += _send_once(
                [lead],
                "sla_warned_at",
                email_of=lambda lead: _email(
                    to=lead.owner.email,
                    subject=_("Overdue: no contact yet with %(lead)s") % {"lead": lead.contact},
                    template="sla_warning",
                    context=_context(lead),
                ),
            )
        except Exception:
            logger.exception(
                "SLA warning for sales lead %s not sent; retried on the next run", lead.pk
            )
    return sent


def sequence_step_notification_send(*, request: OwnerNotificationRequested) -> bool:
    """Email the lead's owner the marketer's message of a "notify owner" step, with a link to
    the lead; once per request (:class:`.models.OwnerNotification`). No owner (or one
    without an email address): nobody is told, and that is not a failure. Returns True if
    sent now. A failed send raises (the event bus retries this handler alone)."""
    contact = Contact.objects.select_related("owner").filter(pk=request.contact_id).first()
    owner = contact.owner if contact is not None else None
    if owner is None or not owner.email:
        return False
    with transaction.atomic():
        claim, _created = OwnerNotification.objects.get_or_create(
            enrollment_id=request.enrollment_id,
            step_id=request.step_id,
            requested_at=request.occurred_at,
            defaults={"contact": contact, "owner": owner},
        )
    if claim.sent_at is not None:
        return False
    sequence = (
        Sequence.objects.filter(pk=request.sequence_id).values_list("name", flat=True).first() or ""
    )
    lead_url = settings.BASE_URL + reverse("leads:inspect", args=[contact.pk])
    subject = _("%(lead)s: %(sequence)s") % {"lead": str(contact), "sequence": sequence}
    open_label = _("Open the lead")
    html = f'{linebreaks(escape(request.message))}<p><a href="{escape(lead_url)}">{escape(open_label)}</a></p>'
    email_send_transactional(
        to=owner.email, subject=subject[:300], html=html, text=f"{request.message}\n\n{lead_url}\n"
    )
    OwnerNotification.objects.filter(pk=claim.pk).update(sent_at=timezone.now(), owner=owner)
    return True
