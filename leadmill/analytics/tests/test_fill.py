"""The fill of the daily counts: idempotent, corrects late rows, and survives SIGKILL."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from leadmill.contacts.models import Contact, StageChange

from .. import selectors, services
from ..form_report import form_report, form_report_raw
from ..landing_pages import page_report
from ..models import DailyCount, FillState, FormBrowserDay, FormDayCount, PageCount
from .known_form import known_form
from .known_funnel import at, known_funnel, lead, page_view, stage


def rows():
    return sorted(
        DailyCount.objects.values_list(
            "day", "metric", "source", "form_id", "country", "lag_days", "count", "amount"
        )
    )


def direct_totals(since, until):
    """The funnel totals counted without the rollup (every day from the raw tables)."""
    FillState.objects.all().delete()
    return selectors.funnel(since=since, until=until)["total"]


@pytest.mark.django_db
def test_a_second_fill_changes_nothing():
    known_funnel()
    services.counts_fill()
    first = rows()
    report = services.counts_fill()
    assert (report.days_filled, report.days_corrected) == (0, 0)
    assert rows() == first


@pytest.mark.django_db
def test_a_back_dated_stage_change_and_a_late_page_view_correct_filled_days():
    data = known_funnel()
    services.counts_fill()
    before = selectors.funnel(since=data.d1, until=data.d2)["total"]
    assert (before["visitors"], before["customers"]) == (5, 1)

    # When an import back-dates c2's move to customer, and a late batch brings a new visitor
    stage(data.contacts["c2"], "customer", at(data.d2, 15))
    page_view("late", at(data.d1, 20), "google", "paid_search")
    report = services.counts_fill()

    # Then the filled days are counted again and equal a direct count
    assert report.days_corrected >= 2
    after = selectors.funnel(since=data.d1, until=data.d2)["total"]
    assert (after["visitors"], after["sqls"], after["customers"]) == (6, 3, 2)
    assert after == direct_totals(data.d1, data.d2)


@pytest.mark.django_db
def test_a_lead_imported_with_an_old_creation_date_is_counted_in_its_day():
    data = known_funnel()
    services.counts_fill()
    old = lead("imported", at(data.d1, 18), "newsletter", "email")
    stage(old, "mql", at(data.d1, 19))
    services.counts_fill()
    total = selectors.funnel(since=data.d1, until=data.d1)["total"]
    assert (total["leads"], total["mqls"]) == (4, 4)  # c1, c2, c4 and the import


# Runs `leadmill analytics fill` against the test's database, pausing inside each day.
FILL = """
import sys
import django
from django.conf import settings

settings.DATABASES["default"]["NAME"] = sys.argv[1]
django.setup()
from django.core.management import call_command

call_command("analytics", "fill", "--pause-inside-day", sys.argv[2])
"""


def fill_start(pause: str) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadmill.settings"}
    return subprocess.Popen(
        [sys.executable, "-c", FILL, connection.settings_dict["NAME"], pause],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_a_fill_killed_with_sigkill_mid_day_and_started_again_equals_a_direct_count():
    # Given a known funnel, the known form and 30 more days of leads and stage changes
    data = known_funnel()
    signup = known_form().form
    for number in range(30):
        day = data.d2 + dt.timedelta(days=number + 1)
        contact = lead(f"more{number}", at(day, 10), "google", "paid_search")
        page_view(f"visitor{number}", at(day, 9), "google", "paid_search")
        if number % 3 == 0:
            stage(contact, "mql", at(day, 11, days=2))

    # When a fill is killed while it writes a day in the middle
    worker = fill_start("0.3")
    deadline = time.monotonic() + 120
    written = 0
    while written < 10 and time.monotonic() < deadline:
        line = worker.stdout.readline()
        assert line, worker.stderr.read()[-3000:]
        written += line.startswith("writing")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    state = FillState.objects.get()
    assert state.state == FillState.State.STARTED
    assert data.d1 < state.filled_until < dt.date.today()
    assert not DailyCount.objects.filter(day__gte=state.filled_until).exists()
    assert not PageCount.objects.filter(day__gte=state.filled_until).exists()
    assert not FormDayCount.objects.filter(day__gte=state.filled_until).exists()
    assert not FormBrowserDay.objects.filter(day__gte=state.filled_until).exists()

    # and started again
    restarted = fill_start("0")
    assert restarted.wait(timeout=300) == 0, restarted.stderr.read()[-3000:]

    # Then every number equals a count straight from the raw tables
    state.refresh_from_db()
    assert state.state == FillState.State.DONE
    assert state.filled_until == dt.date.today()
    since, until = data.d1, dt.date.today() - dt.timedelta(days=1)
    from_rollup = selectors.funnel(since=since, until=until)["total"]
    assert from_rollup["leads"] == Contact.objects.count() == 34
    assert from_rollup["mqls"] == (
        StageChange.objects.filter(to_stage__in=["mql", "sql", "customer"])
        .values("contact_id")
        .distinct()
        .count()
    )
    assert from_rollup["visitors"] == 5 + 30
    pages = page_report(since=since, until=until)
    form_served = form_report(form=signup, since=since, until=until)
    assert FormBrowserDay.objects.filter(form_id=signup.pk).count() == 4  # a, b, c, e
    # 4 views on the form's day and b's the day before, both in the period
    assert (form_served["views"], form_served["starts"], form_served["submissions"]) == (5, 4, 3)
    assert form_served == form_report_raw(form=signup, since=since, until=until)
    assert from_rollup == direct_totals(since, until)
    direct_pages = page_report(since=since, until=until)  # the fill state forgotten: raw
    assert pages["unique_visitors_approximate"] is True
    assert direct_pages["unique_visitors_approximate"] is False
    for row in (*pages["rows"], *direct_pages["rows"]):
        row.pop("unique_visitors_approximate")
    assert (
        pages["rows"]
        == direct_pages["rows"]
        == [
            {
                "page": "/ebook/",
                "views": 6 + 30,
                "unique_visitors": 5 + 30,  # the estimate is exact at this size
                "conversions": 0,
                "conversion_rate": 0.0,
            },
            {  # the known form's accepted posts, sent from its page (no page view tracked)
                "page": "/signup/",
                "views": 0,
                "unique_visitors": 0,
                "conversions": 3,
                "conversion_rate": None,
            },
        ]
    )
