"""New visitors from the stored first visits (ADR 52): bots left out, a visitor counted
once on the day of its first non-bot page view, today's raw tail, late views corrected."""

import datetime as dt

import pytest
from django.utils import timezone

from leadmill.tracking.models import Visitor

from .. import selectors, services
from ..models import FillState, FirstVisit
from .known_funnel import at, known_funnel, page_view


def first_visits():
    return dict(FirstVisit.objects.values_list("visitor_id", "day"))


def visitors(since, until, group_by=None):
    report = selectors.funnel(since=since, until=until, group_by=group_by)
    if group_by:
        return {row["value"]: row["visitors"] for row in report["rows"] if row["visitors"]}
    return report["total"]["visitors"]


def direct_visitors(since, until):
    """New visitors counted from the raw events alone (no fill state, no first visits)."""
    FillState.objects.all().delete()
    return visitors(since, until)


@pytest.mark.django_db
def test_the_fill_stores_each_visitors_first_non_bot_view_once():
    # Given the known funnel: v1 on D1 and D2, v3 a bot's view on D1 then its own on D2,
    # v5 a bot visitor
    data = known_funnel()

    # When the counts are filled
    services.counts_fill()

    # Then each visitor has one first visit, on the day of its first non-bot page view
    d1, d2 = data.d1, data.d2
    assert first_visits() == {"v1": d1, "v2": d1, "v3": d2, "v4": d2, "v6": d1}
    # and v1 is new on D1 only; v5 (a bot visitor) has no row and is never counted
    assert (visitors(d1, d1), visitors(d2, d2), visitors(d1, d2)) == (3, 2, 5)
    assert visitors(d1, d2, "source") == {"google": 3, "bing": 1, "facebook": 1}
    # and a visitor with bot views only has no first visit
    page_view("only-bot", at(d1, 16), "google", "paid_search", bot=True)
    services.counts_fill()
    assert "only-bot" not in first_visits()
    assert visitors(d1, d2) == 5


@pytest.mark.django_db
def test_a_visitor_flagged_as_a_bot_later_is_left_out_when_a_day_is_counted_again():
    data = known_funnel()
    services.counts_fill()
    Visitor.objects.filter(id="v2").update(is_bot=True)

    services.counts_refill()

    assert visitors(data.d1, data.d1) == 2  # v1, v6
    assert "v2" not in first_visits()
    assert visitors(data.d1, data.d1) == direct_visitors(data.d1, data.d1)


@pytest.mark.django_db
def test_todays_tail_counts_only_visitors_without_an_earlier_view():
    # Given a filled funnel (up to yesterday)
    data = known_funnel()
    services.counts_fill()
    today = timezone.localdate()
    assert FillState.objects.get().filled_until == today

    # When today v1 comes back, "new" arrives twice, "bot-today" is a bot visitor, and "late"
    # was first seen yesterday by a page view written after the fill
    now = timezone.localtime()
    page_view("v1", now, "google", "paid_search")
    page_view("new", now, "newsletter", "email")
    page_view("new", now, "google", "paid_search")
    page_view("bot-today", now, "google", "paid_search")
    Visitor.objects.filter(id="bot-today").update(is_bot=True)
    page_view("late", at(today - dt.timedelta(days=1), 10), "bing", "organic_search")
    page_view("late", now, "google", "paid_search")

    # Then today's numbers (the raw tail) count "new" once, credited to its first view
    assert visitors(today, today, "source") == {"newsletter": 1}
    assert visitors(data.d1, today) == 5 + 1
    # and equal a direct count from the raw events
    assert visitors(today, today) == direct_visitors(today, today) == 1
    assert not FirstVisit.objects.filter(day=today).exists()


@pytest.mark.django_db
def test_a_late_back_dated_view_moves_a_first_visit_and_both_days_are_counted_again():
    # Given a filled funnel where v4 was first seen on D2
    data = known_funnel()
    services.counts_fill()
    assert (visitors(data.d1, data.d1), visitors(data.d2, data.d2)) == (3, 2)

    # When a late batch brings a view of v4 on D1 and one of a new visitor on D2
    page_view("v4", at(data.d1, 23), "bing", "organic_search")
    page_view("late-new", at(data.d2, 23), "duckduckgo", "organic_search")
    report = services.counts_fill()

    # Then v4's first visit moves to D1, D1 gains it and D2 keeps its count (v3, late-new)
    assert report.days_corrected >= 2
    assert first_visits()["v4"] == data.d1
    assert first_visits()["late-new"] == data.d2
    assert (visitors(data.d1, data.d1), visitors(data.d2, data.d2)) == (4, 2)
    assert visitors(data.d2, data.d2, "source") == {"google": 1, "duckduckgo": 1}
    # and both equal a direct count
    assert visitors(data.d1, data.d2) == direct_visitors(data.d1, data.d2) == 6
