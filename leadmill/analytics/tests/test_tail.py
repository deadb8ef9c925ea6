"""Today's raw tail kept a minute in the shared cache (ADR 61): the kept numbers are those
of the moment they were counted, the screens say which moment, and once the kept tail
expires or a fill writes, the numbers equal a direct count of the raw rows again."""

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import time_format

from leadmill.contacts.models import Contact
from leadmill.scoring.models import ContactScore
from leadmill.segments.models import Segment

from .. import selectors, services, tail, tasks
from ..landing_pages import page_report
from ..models import FillState
from ..quality import quality
from .known_funnel import known_funnel, lead, page_view

pytestmark = pytest.mark.django_db


def today_numbers() -> tuple[int, int]:
    today = timezone.localdate()
    total = selectors.funnel(since=today, until=today)["total"]
    return total["visitors"], total["leads"]


def direct_numbers() -> tuple[int, int]:
    """Today's visitors and leads counted from the raw rows alone (no fill state: nothing is
    kept then), the fill state put back after."""
    state = FillState.objects.get()
    FillState.objects.filter(pk=state.pk).update(filled_until=None)
    try:
        return today_numbers()
    finally:
        FillState.objects.filter(pk=state.pk).update(filled_until=state.filled_until)


def expire_the_kept_tail() -> None:
    """What the cache does after LEADMILL_ANALYTICS_TAIL_SECONDS (no test waits a minute)."""
    cache.clear()


def arrive_today(name: str) -> None:
    now = timezone.localtime()
    page_view(f"visitor-{name}", now, "newsletter", "email")
    lead(name, now, "newsletter", "email")


def test_todays_numbers_are_kept_until_they_expire_then_equal_the_direct_count():
    # Given a filled funnel and today's first arrival, counted once by a report
    known_funnel()
    services.counts_fill()
    arrive_today("first")
    assert today_numbers() == direct_numbers() == (1, 1)
    counted_at = tail.counted_at(timezone.localdate())
    assert counted_at is not None

    # When two more arrive within the minute
    arrive_today("second")
    arrive_today("third")

    # Then the report still answers the kept numbers, as of the moment they were counted
    assert today_numbers() == (1, 1)
    assert tail.counted_at(timezone.localdate()) == counted_at
    assert direct_numbers() == (3, 3)

    # and once the kept tail expires, the numbers equal the direct count again
    expire_the_kept_tail()
    assert today_numbers() == direct_numbers() == (3, 3)
    assert tail.counted_at(timezone.localdate()) >= counted_at


def test_a_fill_replaces_the_kept_tail_at_once():
    # Given today's numbers kept by a report
    known_funnel()
    services.counts_fill()
    assert today_numbers() == (0, 0)
    arrive_today("after")
    assert today_numbers() == (0, 0)

    # When the fill runs (every quarter of an hour; nothing of today is filled)
    services.counts_fill()

    # Then the next report counts today again: equal to the direct count
    assert today_numbers() == direct_numbers() == (1, 1)


def test_the_leads_per_day_and_the_landing_pages_keep_todays_tail_too():
    known_funnel()
    services.counts_fill()
    today = timezone.localdate()
    week = today - dt.timedelta(days=6)

    def leads_today():
        return sum(selectors.daily(metric="leads", since=week, until=today)[today].values())

    def ebook():
        rows = page_report(since=today, until=today)["rows"]
        return [(row["views"], row["unique_visitors"]) for row in rows if row["page"] == "/ebook/"]

    assert (leads_today(), ebook()) == (0, [])
    arrive_today("one")
    assert (leads_today(), ebook()) == (0, [])  # kept

    expire_the_kept_tail()

    assert (leads_today(), ebook()) == (1, [(1, 1)])


@override_settings(LEADMILL_ANALYTICS_TAIL_SECONDS=0)
def test_with_no_seconds_to_keep_every_report_counts_today_again():
    known_funnel()
    services.counts_fill()
    assert today_numbers() == (0, 0)

    arrive_today("now")

    assert today_numbers() == direct_numbers() == (1, 1)
    assert tail.counted_at(timezone.localdate()) is None


def test_before_the_first_fill_nothing_is_kept():
    # No rollup yet: every day is counted from the raw rows on each request.
    arrive_today("early")
    today = timezone.localdate()
    assert selectors.funnel(since=today, until=today)["total"]["leads"] == 1
    arrive_today("later")
    assert selectors.funnel(since=today, until=today)["total"]["leads"] == 2
    assert tail.counted_at(today) is None


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


def test_the_dashboard_says_as_of_when_todays_numbers_are(admin):
    # Given a filled funnel
    data = known_funnel()
    services.counts_fill()

    # When the dashboard shows a period that ends today
    response = admin.get(reverse("analytics_dashboard"))

    # Then it says when today's numbers were counted and how often they are counted again
    page = response.content.decode()
    counted_at = timezone.localtime(tail.counted_at(timezone.localdate()))
    line = re.search(r"data-today-counted-at>([^<]*)<", page).group(1)
    assert line == (
        f"Today's numbers are as of {time_format(counted_at, 'TIME_FORMAT')}; "
        "they are counted again at most every 60 seconds."
    )
    # and a period without today says nothing of it
    past = admin.get(
        reverse("analytics_dashboard"),
        {"since": data.d1.isoformat(), "until": data.d2.isoformat()},
    )
    assert "data-today-counted-at" not in past.content.decode()


def test_the_screens_say_as_of_when_the_segments_members_and_the_scores_are(admin):
    # Given a filled funnel and a segment
    data = known_funnel()
    services.counts_fill()
    Segment.objects.create(
        name="Brazil",
        definition={
            "match": "all",
            "conditions": [{"field": "country", "op": "equals", "value": "BR"}],
        },
    )
    period = {"since": data.d1.isoformat(), "until": data.d2.isoformat()}

    # When the funnel is broken down by segment, and quality read under the linear model
    by_segment = admin.get(reverse("analytics_dashboard"), {**period, "group_by": "segment"})
    linear = admin.get(
        reverse("analytics_quality"), {**period, "group_by": "source", "attribution": "linear"}
    )

    # Then each says as of when what it read now was read, and how often it is read again
    members = re.search(r"data-members-counted-at>([^<]*)<", by_segment.content.decode())
    assert re.fullmatch(
        r"The segments' members are as of .+; they are read again at most every 60 seconds\.",
        members.group(1),
    )
    scores = re.search(r"data-scores-counted-at>([^<]*)<", linear.content.decode())
    assert re.fullmatch(
        r"The leads' scores are as of .+; they are read again at most every 60 seconds\.",
        scores.group(1),
    )
    # and a screen that read neither says nothing of them
    plain = admin.get(reverse("analytics_dashboard"), period).content.decode()
    assert "data-members-counted-at" not in plain
    assert "data-scores-counted-at" not in plain


def brazil_leads(data, brazil) -> tuple[int, dt.datetime]:
    """Brazil's leads of D1..D2 and as of when its members were read."""
    with tail.readings_as_of() as moments:
        report = selectors.funnel(since=data.d1, until=data.d2, group_by="segment")
    return {row["value"]: row for row in report["rows"]}[brazil.pk]["leads"], moments["segments"]


def test_while_someone_reads_the_segments_and_scores_the_worker_reads_them_again():
    # Given a filled funnel whose Brazil rows (c1, c2, c4) and linear quality were read
    data = known_funnel()
    services.counts_fill()
    brazil = Segment.objects.create(
        name="Brazil",
        definition={
            "match": "all",
            "conditions": [{"field": "country", "op": "equals", "value": "BR"}],
        },
    )
    leads, read_at = brazil_leads(data, brazil)
    assert leads == 3

    def c1_fit():
        report = quality(since=data.d1, until=data.d2, group_by="source", attribution="linear")
        return {row["value"]: row for row in report["rows"]}["google"]["average_fit_score"]

    assert c1_fit() is None  # nobody scored yet

    # When c3 moves to Brazil, c1 is scored, and the worker's minute comes
    c3 = data.contacts["c3"]
    Contact.objects.filter(pk=c3.pk).update(country="BR", updated_at=timezone.now())
    now = timezone.now()
    ContactScore.objects.create(
        contact=data.contacts["c1"], fit_score=40, engagement_at=now, updated_at=now
    )
    tasks.tail_keep_warm.call_local()

    # Then the next reads answer what the worker read, without reading it themselves
    leads, warmed_at = brazil_leads(data, brazil)
    assert leads == 4
    assert warmed_at > read_at
    assert c1_fit() == 40.0


def test_when_nobody_reads_the_segments_the_worker_reads_no_members():
    known_funnel()
    services.counts_fill()
    assert tail.readings_keep_warm() == 0


def test_while_someone_reads_the_reports_the_worker_counts_today_again_every_minute():
    # Given a filled funnel whose today a report has read (and so keeps)
    known_funnel()
    services.counts_fill()
    today = timezone.localdate()
    assert today_numbers() == (0, 0)
    read_at = tail.counted_at(today)

    # When leads arrive and the worker's minute comes
    arrive_today("one")
    arrive_today("two")
    tasks.tail_keep_warm.call_local()

    # Then the next report finds today counted by the worker, equal to the direct count
    counted_at = tail.counted_at(today)
    assert counted_at > read_at
    assert today_numbers() == direct_numbers() == (2, 2)
    # and reads it kept (a later arrival waits for the next count), as of the worker's count
    arrive_today("three")
    assert today_numbers() == (2, 2)
    assert tail.counted_at(today) == counted_at


def test_when_nobody_reads_the_reports_the_worker_counts_nothing():
    known_funnel()
    services.counts_fill()
    arrive_today("unseen")
    expire_the_kept_tail()  # nobody read a report in the last quarter of an hour

    assert tail.tail_keep_warm() == []

    assert tail.counted_at(timezone.localdate()) is None


def test_the_worker_counts_each_day_the_fill_has_not_counted_yet():
    # Given a fill two days behind, and a report read
    known_funnel()
    services.counts_fill()
    today = timezone.localdate()
    FillState.objects.update(filled_until=today - dt.timedelta(days=2))
    today_numbers()

    # When the worker's minute comes, it counts those two days and today
    counted = tail.tail_keep_warm()

    assert counted == [today - dt.timedelta(days=2), today - dt.timedelta(days=1), today]
    assert all(tail.counted_at(day) is not None for day in counted)


@override_settings(LEADMILL_ANALYTICS_TAIL_SECONDS=0)
def test_with_no_seconds_to_keep_the_worker_counts_nothing():
    known_funnel()
    services.counts_fill()
    today_numbers()

    assert tail.tail_keep_warm() == []
