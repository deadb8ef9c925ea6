"""Reads of tracking: a contact's events and touches, its timeline, its attribution, and
the bot rules and sites the collect endpoint checks (cached briefly in each process)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db.models import F, QuerySet
from django.utils.translation import gettext as _

from leadmill.contacts.models import LifecycleStage, StageChange
from leadmill.core.registry import TimelineEntry, names_resolve

from . import attribution
from .bots import BotPattern
from .models import BotRule, Channel, Event, EventType, Site

CONFIG_CACHE_SECONDS = 30
TOUCH_TYPES = (EventType.PAGE_VIEW, EventType.EMAIL_CLICK)
NOT_TOUCHES = (Channel.NONE, Channel.INTERNAL)
CONVERSION_STAGES = (
    LifecycleStage.LEAD,
    LifecycleStage.MQL,
    LifecycleStage.SQL,
    LifecycleStage.CUSTOMER,
)

T = TypeVar("T")
_cache: dict[str, tuple[float, Any]] = {}


def _cached(key: str, load: Callable[[], T]) -> T:
    """``load()``, kept for CONFIG_CACHE_SECONDS: the collect endpoint should not read
    rarely changed admin data on every request. An admin change shows within that time."""
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    _cache[key] = (now + CONFIG_CACHE_SECONDS, value)
    return value


def config_cache_clear() -> None:
    _cache.clear()


def bot_rules_active() -> tuple[BotPattern, ...]:
    """The active bot rules, additions and exceptions, as patterns for :func:`.bots.is_bot`."""
    return _cached(
        "bot_rules",
        lambda: tuple(
            BotPattern(pattern, kind == BotRule.Kind.REGEX, action == BotRule.Action.ALLOW)
            for pattern, kind, action in BotRule.objects.filter(is_active=True)
            .order_by("pk")
            .values_list("pattern", "kind", "action")
        ),
    )


def site_origins() -> frozenset[str]:
    """Origins of the organisation's active sites, allowed to send events."""
    return _cached(
        "site_origins",
        lambda: frozenset(Site.objects.filter(is_active=True).values_list("origin", flat=True)),
    )


def contact_events(
    *, contact_id: int, types: Iterable[str] | None = None, include_bots: bool = False
) -> QuerySet[Event]:
    """A contact's events, newest first; bot events only when asked for."""
    queryset = Event.objects.filter(contact_id=contact_id)
    if types is not None:
        queryset = queryset.filter(type__in=list(types))
    if not include_bots:
        queryset = queryset.filter(is_bot=False)
    return queryset.order_by("-occurred_at", "-id")


def contact_touches(
    *, contact_id: int, until: dt.datetime | None = None
) -> list[attribution.Touch]:
    """A contact's touches (page views and email clicks that carry a source, no bots),
    oldest first, up to ``until`` when given."""
    queryset = (
        Event.objects.filter(contact_id=contact_id, type__in=TOUCH_TYPES, is_bot=False)
        .exclude(channel__in=NOT_TOUCHES)
        .order_by("occurred_at", "id")
    )
    if until is not None:
        queryset = queryset.filter(occurred_at__lte=until)
    return [_touch(*row) for row in queryset.values_list(*_TOUCH_COLUMNS)]


_TOUCH_COLUMNS = ("pk", "occurred_at", "channel", "source", "medium", "campaign")


def _touch(pk, occurred_at, channel, source, medium, campaign) -> attribution.Touch:
    return attribution.Touch(
        occurred_at=occurred_at,
        channel=channel,
        source=source,
        medium=medium,
        campaign=campaign,
        event_id=pk,
    )


def contacts_touches(
    *, contact_ids: Iterable[int], until_created: bool = False
) -> dict[int, list[attribution.Touch]]:
    """The touches of many contacts (as :func:`contact_touches`: page views and email clicks
    that carry a source, no bots), oldest first, per contact id; a contact without one is
    missing. ``until_created``: only those up to the contact's creation (the journey that
    made it a lead). One query, the ids sent as one parameter (analytics' attribution
    models, ADR 60 and 74)."""
    rows = Event.objects.filter(
        contact_id__any=sorted(set(contact_ids)), type__in=TOUCH_TYPES, is_bot=False
    )
    if until_created:
        rows = rows.filter(occurred_at__lte=F("contact__created_at"))
    rows = (
        rows.exclude(channel__in=NOT_TOUCHES)
        .order_by("contact_id", "occurred_at", "id")
        .values_list("contact_id", *_TOUCH_COLUMNS)
    )
    touches: dict[int, list[attribution.Touch]] = {}
    for contact_id, *touch in rows:
        touches.setdefault(contact_id, []).append(_touch(*touch))
    return touches


def contact_first_touch(*, contact_id: int) -> Event | None:
    """The contact's earliest touch (see :func:`contact_touches`), or None: one indexed read."""
    return (
        Event.objects.filter(contact_id=contact_id, type__in=TOUCH_TYPES, is_bot=False)
        .exclude(channel__in=NOT_TOUCHES)
        .order_by("occurred_at", "id")
        .only("occurred_at", "url", "referrer", "source", "medium", "campaign", "channel")
        .first()
    )


@dataclasses.dataclass(frozen=True)
class StageAttribution:
    """The credit of each touch, under every model, for reaching one lifecycle stage."""

    stage: str
    converted_at: dt.datetime
    touches: list[attribution.Touch]
    credits: dict[str, list[attribution.Credit]]


def contact_attribution(
    *, contact_id: int, half_life: dt.timedelta = attribution.DEFAULT_HALF_LIFE
) -> list[StageAttribution]:
    """For each stage the contact reached (lead, MQL, SQL, customer; the first time it
    reached it, per ``StageChange``), the touches up to then and their credit under each
    attribution model. Stages in the order they were reached; two queries in all."""
    reached: dict[str, dt.datetime] = {}
    for stage, changed_at in (
        StageChange.objects.filter(contact_id=contact_id, to_stage__in=CONVERSION_STAGES)
        .order_by("changed_at", "id")
        .values_list("to_stage", "changed_at")
    ):
        reached.setdefault(stage, changed_at)
    if not reached:
        return []
    touches = contact_touches(contact_id=contact_id, until=max(reached.values()))
    results = []
    for stage, converted_at in sorted(reached.items(), key=lambda item: item[1]):
        journey = attribution.touches_until(touches, converted_at)
        credits = {
            name: model(journey, converted_at, half_life=half_life)
            if name == "time_decay"
            else model(journey, converted_at)
            for name, model in attribution.MODELS.items()
        }
        results.append(
            StageAttribution(
                stage=stage, converted_at=converted_at, touches=journey, credits=credits
            )
        )
    return results


def source_label(event: Event) -> str:
    """ "Social · instagram / paid · spring-launch" for a touch; "" for other events."""
    if event.channel in NOT_TOUCHES:
        return ""
    parts = [str(Channel(event.channel).label)]
    if event.source or event.medium:
        parts.append(" / ".join(part for part in (event.source, event.medium) if part))
    if event.campaign:
        parts.append(event.campaign)
    return " · ".join(parts)


_TITLES = {
    EventType.PAGE_VIEW: lambda: _("Viewed %(what)s"),
    EventType.CTA_CLICK: lambda: _("Clicked %(what)s"),
    EventType.FORM_VIEW: lambda: _("Saw the form %(what)s"),
    EventType.FORM_START: lambda: _("Started filling in the form %(what)s"),
    EventType.FORM_SUBMIT: lambda: _("Sent the form %(what)s"),
    EventType.DOWNLOAD: lambda: _("Downloaded %(what)s"),
    EventType.CUSTOM: lambda: _("Did %(what)s"),
}
TIMELINE_TYPES = tuple(_TITLES)


FORM_TYPES = (EventType.FORM_VIEW, EventType.FORM_START, EventType.FORM_SUBMIT)


def event_timeline(contact_id: int) -> list[TimelineEntry]:
    """Timeline provider: the contact's page views, clicks, form events and downloads,
    with the source of each touch; bots excluded, the newest 200.

    Forms and downloads are recorded by code (a form's slug, the link followed): the app
    that owns them names them through :func:`leadmill.core.registry.names_resolve`
    ("form", "download"), so the timeline reads "Downloaded The Lead Generation Playbook",
    not a signed link."""
    events = list(contact_events(contact_id=contact_id, types=TIMELINE_TYPES)[:200])
    form_names = names_resolve("form", (e.name for e in events if e.type in FORM_TYPES))
    download_names = names_resolve(
        "download", (_download_link(e) for e in events if e.type == EventType.DOWNLOAD)
    )
    entries = []
    for event in events:
        if event.type in FORM_TYPES:
            what = form_names.get(event.name) or event.name
        elif event.type == EventType.DOWNLOAD:
            what = download_names.get(_download_link(event)) or event.name
        else:
            what = event.name or event.properties.get("title") or event.url
        entries.append(
            TimelineEntry(
                occurred_at=event.occurred_at,
                kind=event.type,
                title=_TITLES[event.type]() % {"what": str(what or event.get_type_display())[:200]},
                detail=source_label(event),
                url=event.url,
            )
        )
    return entries


def _download_link(event: Event) -> str:
    """The link a download event followed (the tracker keeps it in ``href``)."""
    href = (event.properties or {}).get("href")
    return href if isinstance(href, str) and href else event.name
