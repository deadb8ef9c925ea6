"""Writes of analytics: the fill of the daily counts, and ad spend.

The fill follows Zulip's analytics counts (``analytics/lib/counts.py``): a fill state per
table, one day at a time, each day deleted and written again in one transaction, so that a
fill killed at any point and run again leaves exactly the rows of an uninterrupted one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.capture.models import Submission
from leadmill.contacts.models import Contact, StageChange
from leadmill.core.db import table_writers_wait
from leadmill.core.errors import DomainError
from leadmill.tracking.models import Event, EventType
from leadmill.tracking.selectors import NOT_TOUCHES, TOUCH_TYPES

from .counts import (
    counts_of_lead_rows,
    day_of,
    days_touched_by_form_browsers,
    days_touched_by_leads,
    days_touched_by_visitors,
    first_visits_fill,
    visitors_filled,
)
from .credit_counts import day_credits, day_credits_write
from .form_counts import FORM_EVENTS, days_of_renamed_forms, form_counts_of, form_counts_write
from .models import (
    SHARED_MODELS,
    CreditCount,
    DailyCount,
    FillState,
    FirstVisit,
    FormBrowserDay,
    FormDayCount,
    JourneyChange,
    LeadRow,
    LeadShare,
    PageCount,
    Spend,
)
from .page_counts import page_counts_of, page_counts_write

COUNTS = "daily_counts"
# How long a fill waits for the transactions writing to the tables its marks are read from
# (ADR 73); past it, the marks it stores stay where they were.
WRITERS_WAIT_S = 30.0


def _state() -> FillState:
    state, _created = FillState.objects.get_or_create(name=COUNTS)
    return state


def _first_day() -> dt.date | None:
    """The earliest day any raw row of the counts belongs to."""
    firsts = [
        Event.objects.aggregate(first=Min("occurred_at"))["first"],
        Contact.objects.aggregate(first=Min("created_at"))["first"],
        StageChange.objects.aggregate(first=Min("changed_at"))["first"],
        Contact.objects.aggregate(first=Min("outcome_at"))["first"],
    ]
    moments = [moment for moment in firsts if moment]
    return day_of(min(moments)) if moments else None


@dataclass(frozen=True)
class FillReport:
    days_filled: int
    days_corrected: int
    filled_until: dt.date | None


def counts_fill(
    *,
    until: dt.date | None = None,
    inside_day: Callable[[dt.date], None] | None = None,
    writers_wait_s: float = WRITERS_WAIT_S,
) -> FillReport:
    """Bring the daily counts up to (not including) ``until``, default today.

    First the days already filled that rows written since the last fill touch (a late page
    view, a back-dated stage change, an outcome recorded later) are counted again; then
    each new day is counted. Restartable and idempotent: run it twice, or kill it and run it
    again, and the rows are those of one clean run. A row whose transaction was still open
    when the fill started is counted by it or by the next one, never skipped (ADR 73): the
    fill waits up to ``writers_wait_s`` for such transactions, and keeps its stored marks
    where they were if one is still open then. ``inside_day`` (tests) is called inside each
    day's transaction, after its rows are written and before the commit.
    """
    until = until or timezone.localdate()
    state = _state()
    marks, settled = _marks_read(writers_wait_s)
    # Leads whose journey an identification or a merge changed (ADR 65), and days that
    # counted a lead erased or merged away since (ADR 71): the notes there are now (read
    # after the wait, so a note's transaction open then has ended), deleted by their ids
    # once their days are counted again (again after a kill).
    notes = list(JourneyChange.objects.values_list("id", "contact_id", "day"))
    corrected = 0
    if state.filled_until is None:
        first = _first_day()
        state.filled_until = min(first, until) if first else until
    else:
        late_leads = _late_leads(state, marks) | {lead for _id, lead, _day in notes if lead}
        late = (
            _late_days(state, marks)
            | days_touched_by_leads(late_leads)
            | {day for _id, _lead, day in notes if day}
        )
        # Their shares are computed again from their journeys as they are now, on the first
        # of their days counted again (every one of their days is), and replace the stored
        # ones in that day's transaction.
        for day in sorted(day for day in late if day < state.filled_until):
            _day_fill(state, day, inside_day, recompute=late_leads)
            corrected += 1
    if settled:
        for field, value in marks.items():
            setattr(state, field, value)
    elif state.submission_id_pending is None:
        # A first fill's marks stay at the start of every table: so does this one.
        state.submission_id_pending = 1
    state.save()
    _notes_delete([note_id for note_id, _lead, _day in notes])
    filled = 0
    day = state.filled_until
    while day < until:
        _day_fill(state, day, inside_day, advance=True)
        filled += 1
        day += dt.timedelta(days=1)
    return FillReport(days_filled=filled, days_corrected=corrected, filled_until=state.filled_until)


def _day_fill(
    state, day, inside_day, *, advance: bool = False, recompute: set[int] = frozenset()
) -> None:
    """Count ``day`` again in one transaction. ``recompute``: leads whose journeys may have
    changed; those whose shares this day computes anew are taken out of it once committed."""
    FillState.objects.filter(pk=state.pk).update(state=FillState.State.STARTED, day_in_progress=day)
    # One read of the day's leads' rows for their counts, credits and stored rows (ADR 65).
    credits = day_credits(day, stored=True, recompute=recompute)
    counts = counts_of_lead_rows(credits.lead_rows)
    pages = page_counts_of(day)
    forms = form_counts_of(day)
    with transaction.atomic():
        first_visits_fill(day)
        visitors_filled(day, counts)
        DailyCount.objects.filter(day=day).delete()
        counts.insert(day)
        day_credits_write(day, credits)
        page_counts_write(day, pages)
        form_counts_write(day, forms)
        if inside_day:
            inside_day(day)
        # A new write time: the reports' kept tail (:mod:`.tail`) is keyed by it.
        updates = {
            "state": FillState.State.DONE,
            "day_in_progress": None,
            "updated_at": timezone.now(),
        }
        if advance:
            updates["filled_until"] = day + dt.timedelta(days=1)
        FillState.objects.filter(pk=state.pk).update(**updates)
    if advance:
        state.filled_until = day + dt.timedelta(days=1)
    if recompute:
        recompute.difference_update(credits.new_shares[SHARED_MODELS[0]])


# The tables the marks are read from: their writers of the moment are let end (ADR 73).
MARKED = (Event, StageChange, Contact, Submission)


def _marks_read(writers_wait_s: float) -> tuple[dict, bool]:
    """This fill's high-water marks, and whether the fill may store them.

    The highest ids and the time are read first, then the fill waits for the transactions
    writing to the marked tables at that moment (:func:`leadmill.core.db.table_writers_wait`):
    once they have ended, every row up to a mark is committed (or rolled back), so the
    fill's reads, all after the wait, see it; a row whose id is drawn after the marks were
    read has a higher one, for the next fill. The oldest pending post is read after the
    wait. False when some writer was still open at the end of the wait: the fill reads up to
    these marks but stores the last fill's, so the next one reads the same rows again
    (counting a day again is idempotent).
    """
    submissions_top = Submission.objects.aggregate(top=Max("id"))["top"] or 0
    marks = {
        "event_id_seen": Event.objects.aggregate(top=Max("id"))["top"] or 0,
        "stage_change_id_seen": StageChange.objects.aggregate(top=Max("id"))["top"] or 0,
        "contact_updated_seen": timezone.now(),
    }
    settled = table_writers_wait(
        tables=[model._meta.db_table for model in MARKED], timeout_s=writers_wait_s
    )
    marks["submission_id_pending"] = _oldest_pending_submission(next_id=submissions_top + 1)
    return marks, settled


def _oldest_pending_submission(*, next_id: int) -> int:
    """The id of the oldest post not processed yet (received, or in error and to be
    retried; both through their partial indexes), else ``next_id``: every post accepted
    after this moment has this id or a higher one. ``next_id`` is read before the wait for
    the open transactions (:func:`_marks_read`): a post with a lower id has been seen since,
    pending or not; one with this id or higher may not have been."""
    pending = [
        Submission.objects.filter(status=Submission.Status.RECEIVED).aggregate(low=Min("id"))[
            "low"
        ],
        Submission.objects.filter(retry_at__isnull=False).aggregate(low=Min("id"))["low"],
        next_id,
    ]
    return min(low for low in pending if low is not None)


def _notes_delete(note_ids: list[int]) -> None:
    """Delete the notes the fill read, by their ids (one statement, the ids as one
    parameter): a note written since (its transaction open when they were read) stays for
    the next fill."""
    if note_ids:
        JourneyChange.objects.filter(id__any=note_ids).delete()


def _late_days(state: FillState, marks: dict) -> set[dt.date]:
    """Days whose counts rows written since the last fill may change."""
    filled_from = timezone.make_aware(
        dt.datetime.combine(state.filled_until, dt.time()), timezone.get_default_timezone()
    )
    visitors = set(
        Event.objects.filter(
            id__gt=state.event_id_seen,
            id__lte=marks["event_id_seen"],
            type=EventType.PAGE_VIEW,
            occurred_at__lt=filled_from,
        )
        .exclude(visitor_id=None)
        .values_list("visitor_id", flat=True)
    )
    # A visitor these rows flagged as a bot no longer counts on the days it viewed pages,
    # nor on the days it saw, started or filled in a form.
    bots = set(
        Event.objects.filter(
            id__gt=state.event_id_seen, id__lte=marks["event_id_seen"], visitor__is_bot=True
        ).values_list("visitor_id", flat=True)
    )
    visitors.update(bots)
    # A late form event (a batch sent after its day was filled) changes its form's day.
    forms = {
        day_of(moment)
        for moment in Event.objects.filter(
            id__gt=state.event_id_seen,
            id__lte=marks["event_id_seen"],
            type__in=FORM_EVENTS,
            occurred_at__lt=filled_from,
        ).values_list("occurred_at", flat=True)
    }
    forms |= days_touched_by_form_browsers(bots)
    # A form whose slug changed owns other events than those its days were counted with.
    forms |= days_of_renamed_forms(filled_from)
    # A post accepted since the last fill (processing runs after the post, and retries) is a
    # conversion of its page on the day it was received, which may be counted already; a
    # post accepted or refused as invalid since then is a post of its form's day (ADR 64).
    posts: set[dt.date] = set()
    if state.submission_id_pending is not None:
        posts = {
            day_of(received)
            for received in Submission.objects.filter(
                id__gte=state.submission_id_pending,
                status__in=(Submission.Status.ACCEPTED, Submission.Status.REJECTED),
                created_at__lt=filled_from,
            ).values_list("created_at", flat=True)
        }
    return days_touched_by_visitors(visitors) | posts | forms


def _late_leads(state: FillState, marks: dict) -> set[int]:
    """Leads whose rows or shares rows written since the last fill may change: a stage
    change, a late CTA click or touch (up to the lead's creation: its journey, ADR 65), a
    bot's event, an edit of the contact."""
    leads = set(
        StageChange.objects.filter(
            id__gt=state.stage_change_id_seen, id__lte=marks["stage_change_id_seen"]
        ).values_list("contact_id", flat=True)
    )
    # A late CTA click (or one whose browser these rows flagged as a bot) may change the CTA
    # of the lead it belongs to (ADR 59).
    new_events = Event.objects.filter(id__gt=state.event_id_seen, id__lte=marks["event_id_seen"])
    leads.update(
        new_events.filter(
            Q(type=EventType.CTA_CLICK) | Q(visitor__is_bot=True), contact_id__isnull=False
        ).values_list("contact_id", flat=True)
    )
    leads.update(
        new_events.filter(
            type__in=TOUCH_TYPES,
            is_bot=False,
            contact_id__isnull=False,
            occurred_at__lte=F("contact__created_at"),
        )
        .exclude(channel__in=NOT_TOUCHES)
        .values_list("contact_id", flat=True)
    )
    updated = Contact.objects.filter(updated_at__lte=marks["contact_updated_seen"])
    if state.contact_updated_seen:
        updated = updated.filter(updated_at__gt=state.contact_updated_seen)
    leads.update(updated.values_list("pk", flat=True))
    return leads


def counts_refill() -> FillReport:
    """Forget every count and fill again from the first raw row (after a change of the
    site's time zone, or for the shares of journeys the retention prune shortened; erased
    and merged leads are corrected by the ordinary fill, ADR 71)."""
    with transaction.atomic():
        DailyCount.objects.all().delete()
        CreditCount.objects.all().delete()
        LeadShare.objects.all().delete()
        LeadRow.objects.all().delete()
        FirstVisit.objects.all().delete()
        PageCount.objects.all().delete()
        FormDayCount.objects.all().delete()
        FormBrowserDay.objects.all().delete()
        FillState.objects.filter(name=COUNTS).delete()
    return counts_fill()


# --- Spend -----------------------------------------------------------------------------------


class SpendError(DomainError):
    """A spend row that cannot be stored; the message says which and why."""


@dataclass(frozen=True)
class SpendRow:
    day: dt.date
    amount: Decimal
    currency: str
    channel: str = ""
    source: str = ""
    medium: str = ""
    campaign: str = ""


def spend_record(*, rows: Iterable[SpendRow]) -> int:
    """Store spend rows, replacing the amount of a day and source already recorded.

    All or nothing: a row in another currency than ``LEADMILL_REPORTING_CURRENCY`` or with
    a negative amount raises :class:`SpendError` and nothing is stored.
    """
    reporting = settings.LEADMILL_REPORTING_CURRENCY
    rows = list(rows)
    for number, row in enumerate(rows, start=1):
        if row.currency.upper() != reporting:
            raise SpendError(
                _(
                    "Row %(row)s is in %(currency)s, but spend is reported in %(reporting)s: "
                    "convert it to %(reporting)s first (nothing was imported)."
                )
                % {"row": number, "currency": row.currency or "?", "reporting": reporting}
            )
        if row.amount < 0:
            raise SpendError(
                _("Row %(row)s has a negative amount (nothing was imported).") % {"row": number}
            )
    with transaction.atomic():
        for row in rows:
            Spend.objects.update_or_create(
                day=row.day,
                channel=row.channel,
                source=row.source,
                medium=row.medium,
                campaign=row.campaign,
                defaults={"amount": row.amount, "currency": reporting},
            )
    return len(rows)


SPEND_COLUMNS = ("date", "channel", "source", "medium", "campaign", "amount", "currency")


def spend_rows_from_csv(text: str) -> list[SpendRow]:
    """Parse a spend CSV (header: date, amount, currency and any of channel, source,
    medium, campaign). Raises :class:`SpendError` naming the row and column at fault."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = {name.strip().lower() for name in reader.fieldnames or []}
    missing = [name for name in ("date", "amount", "currency") if name not in header]
    if missing:
        raise SpendError(
            _("The CSV has no column %(columns)s (expected: %(expected)s).")
            % {"columns": ", ".join(missing), "expected": ", ".join(SPEND_COLUMNS)}
        )
    rows = []
    for number, raw in enumerate(reader, start=1):
        line = {(key or "").strip().lower(): (value or "").strip() for key, value in raw.items()}
        try:
            day = dt.date.fromisoformat(line["date"])
        except ValueError:
            raise SpendError(
                _("Row %(row)s: the date %(value)s is not YYYY-MM-DD.")
                % {"row": number, "value": repr(line["date"])}
            ) from None
        try:
            amount = Decimal(line["amount"].replace(",", ""))
            if not amount.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise SpendError(
                _("Row %(row)s: the amount %(value)s is not a number.")
                % {"row": number, "value": repr(line["amount"])}
            ) from None
        rows.append(
            SpendRow(
                day=day,
                amount=amount.quantize(Decimal("0.01")),
                currency=line["currency"].upper(),
                channel=line.get("channel", "")[:20],
                source=line.get("source", "")[:200],
                medium=line.get("medium", "")[:200],
                campaign=line.get("campaign", "")[:200],
            )
        )
    return rows
