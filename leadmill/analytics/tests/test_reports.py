"""The forms and landing-pages reports on known data: exact views, starts, completion,
time to complete, per-field drop-off and errors; page views, visitors, conversions, weeks."""

import datetime as dt

import pytest

from leadmill.capture.models import Submission

from ..form_report import form_report
from ..landing_pages import page_report
from .known_form import known_form
from .known_funnel import at, known_funnel

pytestmark = pytest.mark.django_db


def test_form_report_counts_views_starts_submissions_and_time_to_complete():
    data = known_form()

    report = form_report(form=data.form, since=data.day, until=data.day)

    assert (report["views"], report["starts"], report["submissions"]) == (4, 4, 3)
    assert report["completion_rate"] == 0.75
    assert report["median_seconds_to_complete"] == 90.0  # 90 s and 300 s: nearest rank


def test_form_report_per_field_reached_left_and_error_rate():
    data = known_form()

    report = form_report(form=data.form, since=data.day, until=data.day)

    fields = {row["field"]: row for row in report["fields"]}
    assert list(fields) == ["email", "first_name", "phone"]  # the form's order
    assert (fields["email"]["reached"], fields["email"]["left_here"]) == (4, 1)
    assert (fields["first_name"]["reached"], fields["first_name"]["left_here"]) == (2, 1)
    assert (fields["phone"]["reached"], fields["phone"]["left_here"]) == (0, 0)  # a bot's only
    assert fields["email"]["error_rate"] == 0.25  # 1 of 4 posts
    assert fields["first_name"]["error_rate"] == 0.0


def test_form_report_outside_the_period_is_empty():
    data = known_form()

    report = form_report(
        form=data.form, since=data.day + dt.timedelta(days=1), until=data.day + dt.timedelta(days=1)
    )

    assert (report["views"], report["starts"], report["submissions"]) == (0, 0, 0)
    assert report["completion_rate"] is None
    assert report["median_seconds_to_complete"] is None


def test_page_report_counts_views_unique_visitors_conversions_and_rate():
    data = known_funnel()
    post = Submission.objects.create(
        status=Submission.Status.ACCEPTED,
        data={},
        page_url="https://www.example.com/ebook/?utm_source=google",
    )
    Submission.objects.filter(pk=post.pk).update(created_at=at(data.d1, 9))
    Submission.objects.create(  # spam is no conversion
        status=Submission.Status.SPAM, data={}, page_url="https://www.example.com/ebook/"
    )

    report = page_report(since=data.d1, until=data.d2)

    assert report["rows"] == [
        {
            "page": "/ebook/",
            "views": 6,  # v1 twice, v2, v3 (not its bot view), v4, v6; never bot visitor v5
            "unique_visitors": 5,
            "unique_visitors_approximate": False,  # every day counted from the raw rows
            "conversions": 1,
            "conversion_rate": 0.2,
        }
    ]
    assert sum(week["leads"] for week in report["weeks"]) == 4
    assert all(week["pages_live"] == 0 for week in report["weeks"])
