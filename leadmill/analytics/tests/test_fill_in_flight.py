"""Rows whose transaction was still open when a fill read its marks (ADR 73): the page view,
stage change, outcome and note of such a transaction are counted by that fill or the next,
never skipped, and a note is deleted only once its day is counted.

On PostgreSQL a row's id is drawn when it is inserted and the row is seen when its
transaction commits, so rows committed later can sit below ids already seen; on SQLite one
transaction writes at a time and its rows get ids above every committed row."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from leadmill.contacts.models import Contact
from leadmill.tracking.models import Event

from .. import selectors, services
from ..landing_pages import page_report
from ..models import FillState, JourneyChange
from .known_funnel import at, known_funnel, page_view, stage
from .test_erasure_and_merge import read_raw

GROUPS = (None, "source", "form", "country")
COMMIT_AFTER_S = 2.0  # the longest the open transaction waits for the fill


def reports(since, until) -> dict:
    found = {
        (group, reading): selectors.funnel(
            since=since, until=until, group_by=group, reading=reading
        )
        for group in GROUPS
        for reading in ("cohort", "activity")
    }
    pages = page_report(since=since, until=until)
    found["pages"] = {row["page"]: (row["views"], row["conversions"]) for row in pages["rows"]}
    return found


def in_own_thread(function, *args):
    """``function`` run in a thread of its own, so on a database connection of its own."""

    def run():
        try:
            function(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_rows_committed_after_the_fill_read_its_marks_are_counted_by_the_next_fill():
    # Given the known funnel, filled up to today
    data = known_funnel()
    services.counts_fill()
    c2, c3 = data.contacts["c2"], data.contacts["c3"]
    before = selectors.funnel(since=data.d1, until=data.d2)["total"]
    assert (before["visitors"], before["sqls"], before["customers"]) == (5, 2, 1)
    assert before["revenue"] == Decimal("1000.00")

    # and a transaction, left open, that writes into the filled days: a late page view of
    # a new browser, a back-dated move of c2 to customer, c2's outcome, and the deletion
    # of v6's page view with a note of its day (as an erasure does)
    written, commit = threading.Event(), threading.Event()

    def open_transaction():
        with transaction.atomic():
            page_view("late", at(data.d1, 20), "google", "paid_search")
            stage(c2, "customer", at(data.d2, 15))
            lead = Contact.objects.get(pk=c2.pk)
            lead.outcome, lead.outcome_value, lead.outcome_at = "won", 500, at(data.d2, 16)
            lead.save()
            Event.objects.filter(visitor_id="v6").delete()
            JourneyChange.objects.create(day=data.d1)
            written.set()
            commit.wait(timeout=COMMIT_AFTER_S)

    writer = in_own_thread(open_transaction)
    assert written.wait(timeout=30)
    if connection.vendor == "postgresql":
        # and rows committed meanwhile by others, whose ids are above the open transaction's
        # (on SQLite no one else can write while that transaction is open): a page view of
        # today, c3 disqualified today, a note of D2
        page_view("today", timezone.now(), "google", "paid_search")
        stage(c3, "disqualified", timezone.now())
        JourneyChange.objects.create(day=data.d2)

    # When a fill reads its marks while the transaction is open, and the transaction commits
    # while that fill runs (when it writes a day, ends, or at the latest after 2 s)
    fill = in_own_thread(lambda: services.counts_fill(inside_day=lambda day: commit.set()))
    fill.join(timeout=60)
    commit.set()
    writer.join(timeout=30)
    assert not fill.is_alive() and not writer.is_alive()
    # and the next fill runs
    services.counts_fill()

    # Then every report equals a direct count over the raw rows
    served = reports(data.d1, data.d2)
    total = served[(None, "cohort")]["total"]
    assert (total["visitors"], total["sqls"], total["customers"]) == (5, 3, 2)  # late in, v6 out
    assert total["revenue"] == Decimal("1500.00")
    with read_raw():
        assert served == reports(data.d1, data.d2)
    assert not JourneyChange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_fill_that_a_transaction_outlasts_keeps_its_marks_and_the_next_fill_counts_its_rows():
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite: an open transaction holds the one write lock, so the fill waits for it "
            "through SQLite's busy timeout and never goes on without it"
        )
    # Given the known funnel, filled up to today
    data = known_funnel()
    services.counts_fill()
    state = FillState.objects.get()
    marks_before = (state.event_id_seen, state.stage_change_id_seen, state.contact_updated_seen)

    # and a transaction left open with a late page view and a back-dated stage change, below
    # the ids of rows committed after it
    written, commit = threading.Event(), threading.Event()

    def open_transaction():
        with transaction.atomic():
            page_view("late", at(data.d1, 20), "google", "paid_search")
            stage(data.contacts["c2"], "customer", at(data.d2, 15))
            written.set()
            commit.wait(timeout=60)

    writer = in_own_thread(open_transaction)
    assert written.wait(timeout=30)
    page_view("today", timezone.now(), "google", "paid_search")
    stage(data.contacts["c3"], "disqualified", timezone.now())

    # When a fill gives up waiting for it
    services.counts_fill(writers_wait_s=0.2)

    # Then the fill kept its marks
    state.refresh_from_db()
    assert (
        state.event_id_seen,
        state.stage_change_id_seen,
        state.contact_updated_seen,
    ) == marks_before

    # and when the transaction commits, the next fill counts its rows
    commit.set()
    writer.join(timeout=30)
    services.counts_fill()
    state.refresh_from_db()
    assert state.event_id_seen == Event.objects.order_by("-id").values_list("id", flat=True)[0]
    served = reports(data.d1, data.d2)
    total = served[(None, "cohort")]["total"]
    assert (total["visitors"], total["sqls"], total["customers"]) == (6, 3, 2)
    with read_raw():
        assert served == reports(data.d1, data.d2)
