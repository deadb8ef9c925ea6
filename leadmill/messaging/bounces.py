"""Bounces and complaints reported by the email service provider stop email to an address.

An edge adapter: django-anymail receives each ESP's tracking webhook under ``/anymail/``
(checked with the shared ``ANYMAIL_WEBHOOK_SECRET``), normalises it into an
``AnymailTrackingEvent`` and sends its ``tracking`` signal; :func:`tracking_event_received`
turns a hard bounce or a spam complaint into a suppression. Soft bounces and deferrals are
left alone: the mailbox may accept mail tomorrow.
"""

from __future__ import annotations

import logging
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.db import transaction
from django.utils import timezone

from leadmill.consent.models import Suppression
from leadmill.consent.services import suppression_add
from leadmill.core import events

from .events import MessageBounced, MessageComplained
from .models import Message

logger = logging.getLogger(__name__)

# Bounces some ESPs report as event type "bounced" although the mailbox may recover.
_SOFT_POSTMARK_TYPES = {"SoftBounce", "Transient", "DnsError", "AutoResponder"}
_SOFT_BREVO_EVENTS = {"soft_bounce", "softBounce", "soft_bounced"}
_SOFT_SES_BOUNCE_TYPES = {"Transient", "Undetermined"}
_SOFT_SPARKPOST_CLASSES = {"20", "21", "22", "23", "24", "70"}


def suppression_reason(event: AnymailTrackingEvent, *, esp_name: str = "") -> str | None:
    """The suppression reason a tracking event calls for, or None to leave the address alone.

    A complaint always suppresses; a bounce does unless the ESP marks it as soft; an ESP
    refusing to send because the address is invalid or bounced before counts as a hard bounce.
    """
    if event.event_type == EventType.COMPLAINED:
        return Suppression.Reason.COMPLAINT
    if event.event_type == EventType.BOUNCED:
        return (
            None
            if _is_soft_bounce(event.esp_event, esp_name=esp_name)
            else Suppression.Reason.HARD_BOUNCE
        )
    if event.event_type == EventType.REJECTED and event.reject_reason in (
        RejectReason.INVALID,
        RejectReason.BOUNCED,
    ):
        return Suppression.Reason.HARD_BOUNCE
    return None


def _is_soft_bounce(esp_event: Any, *, esp_name: str) -> bool:
    if not isinstance(esp_event, dict):
        return False
    name = esp_name.lower().replace(" ", "")
    if name == "postmark":
        return esp_event.get("Type") in _SOFT_POSTMARK_TYPES
    if name in ("brevo", "sendinblue"):
        return esp_event.get("event") in _SOFT_BREVO_EVENTS
    if name == "amazonses":
        return (esp_event.get("bounce") or {}).get("bounceType") in _SOFT_SES_BOUNCE_TYPES
    if name == "sparkpost":
        message_event = (esp_event.get("msys") or {}).get("message_event") or {}
        return str(message_event.get("bounce_class", "")) in _SOFT_SPARKPOST_CLASSES
    return False


def tracking_event_received(
    sender: Any, event: AnymailTrackingEvent, esp_name: str = "", **kwargs: Any
) -> None:
    """Receiver of ``anymail.signals.tracking``: suppress hard bounces and complaints.

    Idempotent (ESPs retry webhooks): a listed address stays listed with its first reason,
    and the :class:`~.events.MessageBounced` / :class:`~.events.MessageComplained` fact is
    published when the address is listed, once.
    """
    reason = suppression_reason(event, esp_name=esp_name)
    if reason is None or not event.recipient:
        return
    detail = f"{esp_name}: {event.description or event.mta_response or event.event_type}"
    with transaction.atomic():
        added = suppression_add(email=event.recipient, reason=reason, detail=detail[:500])
        if added:
            events.publish(_fact(event, reason=reason))
    if added:
        logger.info(
            "address suppressed after a %s reported by %s (event %s)",
            reason,
            esp_name,
            event.event_id,
        )


def _fact(event: AnymailTrackingEvent, *, reason: str) -> MessageBounced | MessageComplained:
    """The fact of a bounce or complaint, naming our message when the ESP reports its
    Message-ID (one of ours, ``<…@leadmill>``); that message is marked bounced or
    complained about (the nurture performance report counts them)."""
    message_id = (event.message_id or "").strip().strip("<>")
    message = (
        Message.objects.filter(message_id=message_id).only("pk", "contact_id").first()
        if message_id
        else None
    )
    complaint = reason == Suppression.Reason.COMPLAINT
    fact = MessageComplained if complaint else MessageBounced
    if message is not None:
        column = "complained_at" if complaint else "bounced_at"
        Message.objects.filter(pk=message.pk, **{f"{column}__isnull": True}).update(
            **{column: event.timestamp or timezone.now()}
        )
    return fact(
        message_id=message.pk if message else None,
        contact_id=message.contact_id if message else None,
        occurred_at=event.timestamp or timezone.now(),
    )
