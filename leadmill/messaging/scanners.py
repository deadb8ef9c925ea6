"""Opens and clicks of marketing email, told apart from security scanners.

Corporate mail filters (Barracuda, Mimecast, Proofpoint, Microsoft Defender Safe Links, …)
fetch every link and image of an incoming email before a person sees it. Counting those
as clicks poisons scores and sequences, so a hit is a *bot* hit — recorded as a tracking
event with ``is_bot=True``, never setting ``Message.opened_at``/``clicked_at`` — when:

- its user agent matches a known scanner (:data:`SCANNER_AGENTS`) or is a bot's by
  tracking's test (crawlerdetect's list with the admin's bot rules and exceptions, the
  same the collect endpoint uses), except a mail client or image proxy fetching the
  pixel (:data:`MAIL_READER_AGENTS`), which is the person opening;
- for clicks only, the user agent is an Office application checking a link
  (:data:`CLICK_ONLY_SCANNER_AGENTS`): Outlook fetching *images* is a person opening, but
  Office fetching a *link* is a preview or a Safe Links check, the person's browser comes next;
- it comes within ``LEADMILL_EMAIL_SCANNER_CLICK_SECONDS`` (10 s) of sending: no person
  reads and clicks that fast, a scanner inspecting the delivery does (also true of Apple
  Mail Privacy Protection, which downloads images at delivery);
- it is the third distinct link of one message clicked within 5 seconds: a scanner
  following every link. The earlier clicks of that burst are flagged too, after the fact,
  ``clicked_at`` is recomputed from the human clicks left, and the ``MessageClicked`` fact
  says how many earlier clicks were flagged (scoring recomputes the lead without them).

Image proxies (Gmail's GoogleImageProxy, Yahoo's) fetch the pixel when the person opens
the email, so they count as real opens; they cache the image, so later opens of the same
email are not seen: opens are a lower bound, never a precise count.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from leadmill.core import events
from leadmill.tracking import bots
from leadmill.tracking.models import Event, EventType
from leadmill.tracking.selectors import bot_rules_active
from leadmill.tracking.services import event_record

from .events import MessageClicked, MessageOpened
from .models import Message

logger = logging.getLogger(__name__)

SCANNER_AGENTS = (
    "Barracuda",
    "Mimecast",
    "Proofpoint",
    "ppops-",
    "urldefense",
    "MessageLabs",
    "Symantec",
    "Forcepoint",
    "Websense",
    "TrendMicro",
    "Trend Micro",
    "Sophos",
    "FireEye",
    "Trellix",
    "IronPort",
    "Cisco Secure Email",
    "Zscaler",
    "FortiGuard",
    "Fortinet",
    "Check Point",
    "SonicWall",
    "Hornetsecurity",
    "Vade",
    "SpamTitan",
    "Avanan",
    "Abnormal Security",
    "SafeLinks",
    "Safe Links",
    "Microsoft Defender",
    "LinkChecker",
    "Link Checker",
)
CLICK_ONLY_SCANNER_AGENTS = (
    "Microsoft Office",
    "ms-office",
    "MSOffice",
    "Office Existence Discovery",
)
# What fetches the pixel when a person opens the email: a mail client, or the image proxy
# of webmail. crawlerdetect lists them (they are fetchers, not browsers), but an open
# they make is the person's.
MAIL_READER_AGENTS = (
    "GoogleImageProxy",
    "YahooMailProxy",
    "Microsoft Office",
    "Microsoft Outlook",
    "ms-office",
    "MSOffice",
)
BURST_LINKS = 3
BURST_SECONDS = 5

_scanner = re.compile("|".join(re.escape(agent) for agent in SCANNER_AGENTS), re.IGNORECASE)
_click_only = re.compile(
    "|".join(re.escape(agent) for agent in CLICK_ONLY_SCANNER_AGENTS), re.IGNORECASE
)
_mail_reader = re.compile("|".join(re.escape(agent) for agent in MAIL_READER_AGENTS), re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Hit:
    """What was recorded of one open or click."""

    message_id: int
    is_bot: bool
    reason: str = ""


def scanner_reason(
    *, user_agent: str, kind: str, sent_at: dt.datetime | None, at: dt.datetime
) -> str:
    """Why an open (``kind="open"``) or click (``"click"``) looks automated, or "" when it
    looks like a person. Pure, apart from reading tracking's (cached) bot rules."""
    if _scanner.search(user_agent or ""):
        return "scanner user agent"
    if kind == "click" and _click_only.search(user_agent or ""):
        return "office link check"
    reader_opens = kind == "open" and _mail_reader.search(user_agent or "") is not None
    if not reader_opens and bots.is_bot(user_agent, bot_rules_active()):
        return "bot user agent"
    if (
        sent_at is not None
        and (at - sent_at).total_seconds() < settings.LEADMILL_EMAIL_SCANNER_CLICK_SECONDS
    ):
        return "too soon after sending"
    return ""


def _hit_message(message_pk: int) -> Message | None:
    """The message an open or a click names, with what recording the hit reads."""
    return (
        Message.objects.filter(pk=message_pk)
        .only("pk", "contact_id", "template_id", "sent_at")
        .first()
    )


def _properties(message: Message, **extra) -> dict:
    return {"message_id": message.pk, "template_id": message.template_id, **extra}


def open_record(*, message_pk: int, user_agent: str, at: dt.datetime | None = None) -> Hit | None:
    """Record an open of a message (None when it does not exist); the first human open
    sets ``opened_at``."""
    at = at or timezone.now()
    message = _hit_message(message_pk)
    if message is None:
        return None
    reason = scanner_reason(user_agent=user_agent, kind="open", sent_at=message.sent_at, at=at)
    properties = _properties(message, **({"bot_reason": reason} if reason else {}))
    with transaction.atomic():
        event_record(
            contact_id=message.contact_id,
            type=EventType.EMAIL_OPEN,
            properties=properties,
            is_bot=bool(reason),
            occurred_at=at,
        )
        if not reason:
            Message.objects.filter(pk=message.pk, opened_at__isnull=True).update(opened_at=at)
        events.publish(
            MessageOpened(
                message_id=message.pk,
                contact_id=message.contact_id,
                scanner=bool(reason),
                occurred_at=at,
            )
        )
    return Hit(message.pk, bool(reason), reason)


def click_record(
    *,
    message_pk: int,
    url: str,
    user_agent: str,
    visitor_id: str = "",
    at: dt.datetime | None = None,
) -> Hit | None:
    """Record a click on ``url`` in a message (None when the message does not exist).

    A human click sets ``clicked_at`` (and ``opened_at``: images may be blocked, the click
    proves the open) once. A click completing a burst flags the whole burst as a scanner's.
    ``visitor_id``, the browser's ``lm_vid``, is kept in the event's properties: the form
    that browser sends next is credited to the email (ADR 57).
    """
    at = at or timezone.now()
    message = _hit_message(message_pk)
    if message is None:
        return None
    reason = scanner_reason(user_agent=user_agent, kind="click", sent_at=message.sent_at, at=at)
    burst: list[int] = []
    if not reason:
        burst = _burst_clicks(message=message, url=url, at=at)
        if burst:
            reason = "all links clicked at once"
    extra = {"visitor_id": visitor_id} if visitor_id else {}
    if reason:
        extra["bot_reason"] = reason
    properties = _properties(message, url=url, **extra)
    with transaction.atomic():
        event_record(
            contact_id=message.contact_id,
            type=EventType.EMAIL_CLICK,
            url=url,
            properties=properties,
            is_bot=bool(reason),
            occurred_at=at,
        )
        if not reason:
            Message.objects.filter(pk=message.pk, clicked_at__isnull=True).update(clicked_at=at)
            Message.objects.filter(pk=message.pk, opened_at__isnull=True).update(opened_at=at)
        elif burst:
            _burst_flag(message=message, event_ids=burst)
        events.publish(
            MessageClicked(
                message_id=message.pk,
                contact_id=message.contact_id,
                url=url,
                scanner=bool(reason),
                earlier_clicks_flagged=len(burst),
                occurred_at=at,
            )
        )
    return Hit(message.pk, bool(reason), reason)


def _human_clicks(message: Message):
    return Event.objects.filter(
        contact_id=message.contact_id,
        type=EventType.EMAIL_CLICK,
        is_bot=False,
        properties__message_id=message.pk,
    )


def _burst_clicks(*, message: Message, url: str, at: dt.datetime) -> list[int]:
    """Ids of this message's human clicks of the last BURST_SECONDS when, with this click,
    they reach BURST_LINKS distinct links; [] otherwise."""
    recent = list(
        _human_clicks(message)
        .filter(occurred_at__gte=at - dt.timedelta(seconds=BURST_SECONDS), occurred_at__lte=at)
        .values_list("pk", "url")
    )
    if len({link for _pk, link in recent} | {url}) < BURST_LINKS:
        return []
    return [pk for pk, _link in recent]


def _burst_flag(*, message: Message, event_ids: list[int]) -> None:
    """Turn a burst's earlier clicks into bot clicks and recompute ``clicked_at`` (and
    ``opened_at`` when only those clicks had set it) from the human clicks left."""
    first_human_click = (
        _human_clicks(message)
        .exclude(pk__in=event_ids)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    clicked_at = Message.objects.filter(pk=message.pk).values_list("clicked_at", flat=True).first()
    Event.objects.filter(pk__in=event_ids).update(is_bot=True)
    updates: dict = {"clicked_at": first_human_click}
    has_human_open = Event.objects.filter(
        contact_id=message.contact_id,
        type=EventType.EMAIL_OPEN,
        is_bot=False,
        properties__message_id=message.pk,
    ).exists()
    if not has_human_open and first_human_click is None and clicked_at is not None:
        updates["opened_at"] = None
    Message.objects.filter(pk=message.pk).update(**updates)
    logger.info(
        "message %s: %s clicks within %s s flagged as a scanner's",
        message.pk,
        len(event_ids) + 1,
        BURST_SECONDS,
    )
