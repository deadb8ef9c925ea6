"""The reports' raw tail, kept a short while in the shared cache (ADR 61).

A report adds to the daily counts the days the fill has not counted yet (today, mostly),
counted from the raw rows by the functions the fill uses (:func:`.counts.visitors_counts`,
:func:`.counts.day_leads_counts`, :func:`.page_counts.page_tallies`). That recount is nearly all
of a served report's time, and every screen and API call of a minute asks for the same day.
So each part of a day's tail is kept ``LEADMILL_ANALYTICS_TAIL_SECONDS`` (default 60) in the
shared cache with the moment it was counted: a report is exact as of that moment, and the
screens say which (:func:`counted_at`). The key holds the fill's mark (``filled_until`` and
the time of its last write), so whatever a fill writes replaces the kept tail at once.

Before the first fill there is no rollup to add a tail to: every day is counted from the raw
rows on each request (the direct count), never kept.

While someone reads the reports (any report read in the last :data:`WATCH_SECONDS`), the
worker counts the tail again every minute (:func:`tail_keep_warm`), so a screen finds it
kept instead of counting it in its request; the first screen after a quiet spell counts it
itself (ADR 66).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from .counts import Key, day_leads_counts, visitors_counts
from .credit_counts import CreditKey, day_credits
from .models import FillState
from .page_counts import PageTally, page_tallies, sketch_of
from .services import COUNTS

PARTS = ("visitors", "leads", "pages", "credits")


@dataclass(frozen=True)
class FillMark:
    """How far the fill has counted, and when it last wrote (any write changes it)."""

    filled_until: dt.date
    written_at: dt.datetime


def fill_mark() -> FillMark | None:
    """The fill's mark, ``None`` before the first fill."""
    row = (
        FillState.objects.filter(name=COUNTS, filled_until__isnull=False)
        .values_list("filled_until", "updated_at")
        .first()
    )
    return FillMark(*row) if row else None


def _key(part: str, day: dt.date, mark: FillMark) -> str:
    return (
        f"analytics:tail:{part}:{day.isoformat()}:"
        f"{mark.filled_until.isoformat()}:{mark.written_at.timestamp():.6f}"
    )


# A part of the tail read in the last quarter of an hour keeps the worker counting it.
WATCHED_KEY = "analytics:tail:watched"
WARMED_PARTS = ("leads", "visitors", "pages", "credits")
WATCH_SECONDS = 15 * 60
# How many days after the fill's mark the worker keeps counted: today and the days a fill
# that fell behind has not counted yet, within reason.
WARM_DAYS = 7
# A tail the worker counted outlives the minute by this much, so it is still there when the
# worker's next run replaces it.
WARM_MARGIN_SECONDS = 60

_recounting: ContextVar[bool] = ContextVar("analytics_tail_recounting", default=False)


@contextmanager
def _recount() -> Iterator[None]:
    """Within: every part asked for is counted again and kept, whatever was kept."""
    token = _recounting.set(True)
    try:
        yield
    finally:
        _recounting.reset(token)


def _kept(part: str, day: dt.date, mark: FillMark | None, count: Callable[[], object]):
    seconds = settings.LEADMILL_ANALYTICS_TAIL_SECONDS
    if mark is None or seconds <= 0:
        return count()
    key = _key(part, day, mark)
    if _recounting.get():
        kept = (timezone.now(), count())
        cache.set(key, kept, seconds + WARM_MARGIN_SECONDS)
        return kept[1]
    cache.set(f"{WATCHED_KEY}:{part}", True, WATCH_SECONDS)
    kept = cache.get(key)
    if kept is None:
        kept = (timezone.now(), count())
        cache.set(key, kept, seconds)
    return kept[1]


def tail_keep_warm() -> list[dt.date]:
    """Count again the tail of every day after the fill's mark up to today (at most
    :data:`WARM_DAYS`), each part a report read in the last :data:`WATCH_SECONDS` (the
    credits only while someone reads a report under another attribution model), and keep
    it; the days counted (none when nobody reads, before the first fill or with the tail
    not kept at all)."""
    if settings.LEADMILL_ANALYTICS_TAIL_SECONDS <= 0:
        return []
    read = {
        key.rsplit(":", 1)[1]
        for key in cache.get_many([f"{WATCHED_KEY}:{part}" for part in WARMED_PARTS])
    }
    mark = fill_mark() if read else None
    if mark is None:
        return []
    today = timezone.localdate()
    day = max(mark.filled_until, today - dt.timedelta(days=WARM_DAYS - 1))
    counted = []
    with _recount():
        while day <= today:
            if read & {"leads", "visitors"}:
                day_rows(day, mark=mark, visitors="visitors" in read)
            if "pages" in read:
                day_pages(day, mark=mark)
            if "credits" in read:
                day_credit_rows(day, mark=mark)
            counted.append(day)
            day += dt.timedelta(days=1)
    return counted


def kept_tail(part: str, day: dt.date, mark: FillMark | None, count: Callable[[], object]):
    """``count()`` of a day after the fill's mark, kept as the tail's parts are (a part
    of another module's tail: a form's, :mod:`.form_report`; a segment's leads of the days
    not filled yet, :mod:`.segment_counts`)."""
    return _kept(part, day, mark, count)


_as_of: ContextVar[dict | None] = ContextVar("analytics_kept_as_of", default=None)


@contextmanager
def readings_as_of() -> Iterator[dict[str, dt.datetime]]:
    """Within: the moment of each kept reading :func:`kept_as_of` answered from is noted in
    the dict yielded, by part (the oldest), so a screen can say as of when they are."""
    token = _as_of.set({})
    try:
        yield _as_of.get()
    finally:
        _as_of.reset(token)


def kept_as_of(
    part: str,
    params: tuple,
    mark: FillMark | None,
    count: Callable[[dt.datetime], object],
    *,
    recall: dict | None = None,
) -> tuple[dt.datetime, object]:
    """``(moment, count(moment))``: a reading of the filled days that also depends on what is
    true now besides the fill (the members of segments, the leads' scores: ADR 69), kept
    as the tail is (``LEADMILL_ANALYTICS_TAIL_SECONDS``), keyed by ``params`` and the fill's
    mark, with the moment it was counted. Counted on each call before the first fill or
    with the tail not kept (then the moment is now). ``recall``: the keyword arguments of
    the part's reading (:data:`READINGS`) that asked, so the worker can count it again while
    it is read (:func:`readings_keep_warm`)."""
    seconds = settings.LEADMILL_ANALYTICS_TAIL_SECONDS
    if mark is None or seconds <= 0:
        moment = timezone.now()
        return moment, count(moment)
    named = repr((params, mark.filled_until, mark.written_at.timestamp()))
    key = f"analytics:now:{part}:{hashlib.sha256(named.encode()).hexdigest()}"
    if _recounting.get():
        moment = timezone.now()
        kept = (moment, count(moment))
        cache.set(key, kept, seconds + WARM_MARGIN_SECONDS)
        return kept
    if recall is not None:
        _note_read(key, part, recall)
    kept = cache.get(key)
    if kept is None:
        moment = timezone.now()
        kept = (moment, count(moment))
        cache.set(key, kept, seconds)
    noted = _as_of.get()
    if noted is not None:
        noted[part] = min(kept[0], noted.get(part, kept[0]))
    return kept


# The readings kept as of their moment that reports read in the last WATCH_SECONDS:
# ``{key: (part, recall, when last noted)}``, the latest READINGS_WARMED of them.
READ_KEY = "analytics:now:read"
READINGS_WARMED = 8


def _note_read(key: str, part: str, recall: dict) -> None:
    read = cache.get(READ_KEY) or {}
    now = timezone.now().timestamp()
    if key in read and now - read[key][2] < WARM_MARGIN_SECONDS:
        return  # noted within the minute: no write per request
    read[key] = (part, recall, now)
    latest = sorted(read.items(), key=lambda item: -item[1][2])[:READINGS_WARMED]
    cache.set(READ_KEY, dict(latest), WATCH_SECONDS)


def readings_keep_warm() -> int:
    """Count again every reading kept as of its moment (:func:`kept_as_of`) that a report
    read in the last :data:`WATCH_SECONDS` (at most :data:`READINGS_WARMED`, the latest),
    and keep it, as :func:`tail_keep_warm` does for the day's tail; how many were counted."""
    if settings.LEADMILL_ANALYTICS_TAIL_SECONDS <= 0:
        return 0
    now = timezone.now().timestamp()
    read = [
        (part, recall)
        for part, recall, noted in (cache.get(READ_KEY) or {}).values()
        if now - noted < WATCH_SECONDS
    ]
    if not read or fill_mark() is None:
        return 0
    # Imported here: both modules read through this one.
    from .quality import scores_stored_credits
    from .segment_counts import segment_counts

    readings = {"segments": segment_counts, "quality": scores_stored_credits}
    with _recount():
        for part, recall in read:
            readings[part](**recall)
    return len(read)


# Rows read from the counts change only when the fill writes (the mark is in the key): kept
# longer than the tail, as exact as the counts themselves.
STORED_SECONDS = 3600


def kept_for_fill(parts: tuple, mark: FillMark, count: Callable[[], object]):
    """``count()`` kept in the shared cache until the fill writes (or an hour passes)."""
    named = repr((parts, mark.filled_until, mark.written_at.timestamp()))
    key = f"analytics:stored:{hashlib.sha256(named.encode()).hexdigest()}"
    kept = cache.get(key)
    if kept is None:
        kept = count()
        cache.set(key, kept, STORED_SECONDS)
    return kept


def day_rows(day: dt.date, *, mark: FillMark | None, visitors: bool = True) -> dict[Key, list]:
    """The count rows of a day after the fill's mark, ``(key) -> [count, amount]``
    (``visitors=False``: all but the new visitors, the dearest part to count)."""
    rows = dict(_kept("leads", day, mark, lambda: dict(day_leads_counts(day).rows)))
    if visitors:
        rows.update(
            _kept(
                "visitors",
                day,
                mark,
                lambda: dict(visitors_counts(day, known_before=mark is not None).rows),
            )
        )
    return rows


def day_credit_rows(day: dt.date, *, mark: FillMark | None) -> dict[CreditKey, list[float]]:
    """The credit rows of a day after the fill's mark under every stored attribution model
    (:func:`.credit_counts.day_credits` from the journeys, ADR 65)."""
    return _kept("credits", day, mark, lambda: dict(day_credits(day, stored=False).rows))


def day_pages(day: dt.date, *, mark: FillMark | None) -> dict[str, PageTally]:
    """The landing pages of a day after the fill's mark (:func:`.page_counts.page_tallies`)."""

    def count() -> dict[str, PageTally]:
        pages = page_tallies(day)
        for tally in pages.values():  # merged with the stored days' sketches, once kept
            tally.sketch = sketch_of(tally.visitors).serialize()
        return pages

    return _kept("pages", day, mark, count)


def counted_at(day: dt.date, parts: tuple[str, ...] = PARTS) -> dt.datetime | None:
    """When the kept tail of ``day`` was counted (the oldest of its ``parts``), ``None`` when
    none is kept (no fill yet, the day is filled, or nothing asked for it this minute)."""
    mark = fill_mark()
    if mark is None or day < mark.filled_until:
        return None
    kept = cache.get_many([_key(part, day, mark) for part in parts])
    return min((moment for moment, _rows in kept.values()), default=None)
