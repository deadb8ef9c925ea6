"""The landing-pages report from the fill's daily page counts (ADR 56): views and
conversions exact, unique visitors exact for one day and a labelled estimate within 1 %
over several days, equal to the raw count where the raw rows are read."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from leadmill.capture.models import Submission
from leadmill.tracking.models import Event, EventType, Visitor

from .. import services
from ..landing_pages import page_report
from ..models import PageCount
from .known_funnel import at, known_funnel, page_view

pytestmark = pytest.mark.django_db


def rows(report):
    return {row["page"]: row for row in report["rows"]}


def test_filled_days_give_the_same_views_and_conversions_and_label_visitors_approximate():
    # Given the known funnel and one conversion on D1, counted by the fill
    data = known_funnel()
    post = Submission.objects.create(
        status=Submission.Status.ACCEPTED, data={}, page_url="https://www.example.com/ebook/"
    )
    Submission.objects.filter(pk=post.pk).update(created_at=at(data.d1, 9))
    services.counts_fill()
    assert PageCount.objects.filter(day=data.d1, landing_page="/ebook/").exists()

    # When the two days are read from the counts
    report = page_report(since=data.d1, until=data.d2)

    # Then views and conversions are exact, and the 5 visitors are an estimate, labelled
    assert report["unique_visitors_approximate"] is True
    assert report["rows"] == [
        {
            "page": "/ebook/",
            "views": 6,
            "unique_visitors": 5,
            "unique_visitors_approximate": True,
            "conversions": 1,
            "conversion_rate": 0.2,
        }
    ]


def test_one_filled_day_gives_exact_unique_visitors():
    data = known_funnel()
    services.counts_fill()

    report = page_report(since=data.d2, until=data.d2)

    # D2: v1, v3 and v4 (v3's bot view was on D1)
    assert report["unique_visitors_approximate"] is False
    assert rows(report)["/ebook/"]["unique_visitors"] == 3
    assert rows(report)["/ebook/"]["views"] == 3


def test_unique_visitors_over_many_days_are_within_one_percent_of_the_exact_count():
    # Given 3,000 visitors of one page over 10 days, each coming back on 1 to 4 of them
    first = timezone.localdate() - dt.timedelta(days=20)
    Visitor.objects.bulk_create(
        Visitor(id=f"w{n}", first_seen=at(first, 0), last_seen=at(first, 0)) for n in range(3000)
    )
    Event.objects.bulk_create(
        Event(
            visitor_id=f"w{n}",
            occurred_at=at(first, 8, days=(n * 7 + visit * 3) % 10),
            type=EventType.PAGE_VIEW,
            url="https://www.example.com/trial/",
        )
        for n in range(3000)
        for visit in range(1 + n % 4)
    )
    until = first + dt.timedelta(days=9)
    exact = page_report(since=first, until=until)  # not filled yet: from the raw rows
    services.counts_fill()

    # When the period is read from the counts
    estimated = page_report(since=first, until=until)

    # Then the raw reading is exact, the estimate within 1 % of it, and labelled
    assert exact["unique_visitors_approximate"] is False
    assert rows(exact)["/trial/"]["unique_visitors"] == 3000
    assert estimated["unique_visitors_approximate"] is True
    assert rows(estimated)["/trial/"]["views"] == rows(exact)["/trial/"]["views"] == 7500
    assert abs(rows(estimated)["/trial/"]["unique_visitors"] - 3000) <= 30


def test_a_visitor_flagged_as_a_bot_after_the_fill_no_longer_counts_after_the_next_one():
    # Given D1's counts filled with v6 as a visitor
    data = known_funnel()
    services.counts_fill()
    assert page_report(since=data.d1, until=data.d1)["rows"][0]["unique_visitors"] == 3

    # When a later request of v6 flags it as a bot, and the fill runs again
    Visitor.objects.filter(id="v6").update(is_bot=True)
    page_view("v6", timezone.now(), "facebook", "paid_social", bot=True)
    services.counts_fill()

    # Then D1 counts v1 and v2 only (v5 was a bot already), as the raw rows say
    report = page_report(since=data.d1, until=data.d1)
    assert (report["rows"][0]["unique_visitors"], report["rows"][0]["views"]) == (2, 2)


def test_the_screen_and_its_csv_label_an_estimate_and_not_an_exact_day(client, django_user_model):
    # Given the known funnel counted by the fill, and a marketer signed in
    data = known_funnel()
    services.counts_fill()
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "pw"))
    url = reverse("analytics_pages")
    two_days = {"since": data.d1.isoformat(), "until": data.d2.isoformat()}
    one_day = {"since": data.d2.isoformat(), "until": data.d2.isoformat()}

    # When the two days are shown and exported, and then one day
    screen = client.get(url, two_days).content.decode()
    header = client.get(url, {**two_days, "export": "pages"}).content.decode().splitlines()[0]
    exact = client.get(url, one_day).content.decode()

    # Then the estimate is marked "≈" with its explanation; the single day is not
    assert "≈ Unique visitors" in screen
    assert "≈ 5" in screen
    assert "within 1 % of the exact number" in screen
    # its explanation stands above the table, which names it, not in a <caption> as wide as
    # the table (a phone's scrolling wrap cut its lines)
    assert 'aria-describedby="caption-pages"' in screen
    caption = screen.split('id="caption-pages">')[1].split("</p>")[0]
    assert "within 1 % of the exact number" in caption
    assert "<caption" not in screen.split('data-table="pages"')[1].split("</table>")[0]
    assert header == "Page,Views,≈ Unique visitors,Conversions,≈ Conversion rate"
    table = exact.split('data-table="pages"')[1].split("</table>")[0]
    assert ">Unique visitors</th>" in table
    assert "≈" not in table.split("<tbody>")[1]


def test_a_period_at_the_first_day_of_the_calendar_is_answered_before_and_after_a_fill():
    # Given no fill yet (schemathesis found a 500 here: the day before 0001-01-01)
    first = dt.date(1, 1, 1)

    # When the first week of the calendar is asked for, before any fill and after one
    before = page_report(since=first, until=first + dt.timedelta(days=6))
    services.counts_fill()
    after = page_report(since=first, until=first + dt.timedelta(days=6))

    # Then there is nothing to show, exactly
    assert before["rows"] == after["rows"] == []
    assert before["unique_visitors_approximate"] is False


def test_a_post_accepted_after_the_fill_counted_its_day_corrects_that_day():
    # Given a post received on D1 and not processed yet when the fill counts D1
    data = known_funnel()
    post = Submission.objects.create(
        status=Submission.Status.RECEIVED, data={}, page_url="https://www.example.com/ebook/"
    )
    Submission.objects.filter(pk=post.pk).update(created_at=at(data.d1, 23, 59))
    services.counts_fill()
    assert rows(page_report(since=data.d1, until=data.d1))["/ebook/"]["conversions"] == 0

    # When processing accepts it after the fill, and the fill runs again
    Submission.objects.filter(pk=post.pk).update(status=Submission.Status.ACCEPTED)
    report = services.counts_fill()

    # Then D1 is counted again: its conversion is there, equal to the raw count
    assert report.days_corrected >= 1
    stored = PageCount.objects.get(day=data.d1, landing_page="/ebook/")
    assert stored.conversions == 1
    assert rows(page_report(since=data.d1, until=data.d1))["/ebook/"]["conversions"] == 1


def test_a_post_already_counted_when_the_fill_ran_corrects_no_day():
    # Given a post accepted on D1 before the fill counted D1
    data = known_funnel()
    post = Submission.objects.create(
        status=Submission.Status.ACCEPTED, data={}, page_url="https://www.example.com/ebook/"
    )
    Submission.objects.filter(pk=post.pk).update(created_at=at(data.d1, 9))
    services.counts_fill()

    # When the fill runs again with nothing new
    report = services.counts_fill()

    # Then no day is counted again
    assert report.days_corrected == 0
    assert PageCount.objects.get(day=data.d1, landing_page="/ebook/").conversions == 1
