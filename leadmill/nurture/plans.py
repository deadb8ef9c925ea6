"""A sequence's steps read once into a plain plan the engine walks: the steps in order, and
where each id and label is. Reading the StreamField once per batch keeps the walk cheap."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from django.conf import settings

from .models import Sequence


@dataclasses.dataclass(frozen=True)
class Step:
    id: str
    type: str
    value: dict
    label: str


# Steps that run statements of their own while walking (writes, or a branch's queries, which
# on PostgreSQL could abort the batch's transaction): the walk needs a savepoint around them.
OWN_STATEMENT_STEPS = frozenset({"update", "add_points", "branch"})


@dataclasses.dataclass(frozen=True)
class Plan:
    sequence_id: int
    steps: tuple[Step, ...]
    by_id: dict[str, int]
    by_label: dict[str, int]

    @property
    def needs_savepoint(self) -> bool:
        """Whether a walk runs statements of its own (updates the lead, adds points, asks a
        branch's question); the other steps only collect messages and enrollment changes,
        saved once per batch, so a failure there has nothing in the database to undo."""
        return any(step.type in OWN_STATEMENT_STEPS for step in self.steps)

    def index_of_label(self, label: str) -> int | None:
        return self.by_label.get((label or "").strip())

    def last_email_before(self, index: int) -> Step | None:
        for step in reversed(self.steps[:index]):
            if step.type == "send_email":
                return step
        return None


def sequence_plan(sequence: Sequence) -> Plan:
    """The steps of ``sequence`` as a :class:`Plan`."""
    steps = []
    # The stored JSON (ids for choosers, ISO text for times): no lookups while walking.
    for item in sequence.steps.raw_data:
        value = item.get("value") if isinstance(item.get("value"), dict) else {}
        steps.append(
            Step(
                id=item["id"],
                type=item["type"],
                value=value,
                label=(value.get("label") or "").strip(),
            )
        )
    return Plan(
        sequence_id=sequence.pk,
        steps=tuple(steps),
        by_id={step.id: index for index, step in enumerate(steps)},
        by_label={step.label: index for index, step in enumerate(steps) if step.label},
    )


def contact_zone(time_zone: str) -> zoneinfo.ZoneInfo:
    """The contact's time zone; the site's (``TIME_ZONE``) when blank or unknown."""
    for name in (time_zone, settings.TIME_ZONE, "UTC"):
        if not name:
            continue
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def _time(text) -> dt.time | None:
    if not text:
        return None
    if isinstance(text, dt.time):
        return text
    return dt.time.fromisoformat(str(text))


def wait_until(*, value: dict, now: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """When a wait step started at ``now`` ends: after its duration, then at the first moment
    on an allowed weekday inside the time window, both read in the contact's ``zone``.

    No weekday chosen means any day; a window without a start starts at midnight, without an
    end runs to midnight. Always within 8 days after the duration (a week has every weekday).
    """
    after = now + dt.timedelta(
        days=int(value.get("days") or 0),
        hours=int(value.get("hours") or 0),
        minutes=int(value.get("minutes") or 0),
    )
    weekdays = {int(day) for day in value.get("weekdays") or []}
    start, end = _time(value.get("window_start")), _time(value.get("window_end"))
    if not weekdays and not start and not end:
        return after
    local = after.astimezone(zone)
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        if weekdays and day.weekday() not in weekdays:
            continue
        candidate = local if offset == 0 else dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone)
        if start and candidate.timetz().replace(tzinfo=None) < start:
            candidate = dt.datetime.combine(day, start, tzinfo=zone)
        if end and candidate.timetz().replace(tzinfo=None) > end:
            continue
        return candidate.astimezone(dt.UTC)
    return after
