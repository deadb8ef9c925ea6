"""The forms report served from the rows the fill stores (ADR 64): the known form's exact
figures, and always the raw reading's numbers (after a fill, for browsers seen on several
days and today, after a late post, a late field event and a browser flagged as a bot)."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from leadmill.capture.models import Submission
from leadmill.tracking.models import Event, EventType, Visitor

from .. import services
from ..form_report import form_report, form_report_raw
from ..models import FillState, FormBrowserDay, FormDayCount
from .known_form import _at, _event, _post, known_form

pytestmark = pytest.mark.django_db


def served_and_raw(form, since, until) -> tuple[dict, dict]:
    cache.clear()  # nothing kept from an earlier report of the test
    return form_report(form=form, since=since, until=until), form_report_raw(
        form=form, since=since, until=until
    )


def test_the_known_form_from_stored_rows_has_its_exact_figures():
    # Given the known form, filled
    data = known_form()
    services.counts_fill()
    assert FormDayCount.objects.filter(form_id=data.form.pk, day=data.day).exists()
    # the browsers that started, touched a field or sent an accepted post: a, b, c, e (not
    # d, whose post was refused, nor the bot)
    assert sorted(
        FormBrowserDay.objects.filter(form_id=data.form.pk).values_list("visitor_id", flat=True)
    ) == [
        "visitor-a-000000001",
        "visitor-b-000000001",
        "visitor-c-000000001",
        "visitor-e-000000001",
    ]

    # When the report is served (a stored day only)
    Event.objects.filter(name="signup").delete()  # the raw rows gone: the stored ones answer
    report = form_report(form=data.form, since=data.day, until=data.day)

    # Then its numbers are the known ones
    assert (report["views"], report["starts"], report["submissions"]) == (4, 4, 3)
    assert report["completion_rate"] == 0.75
    assert report["median_seconds_to_complete"] == 90.0
    fields = {row["field"]: row for row in report["fields"]}
    assert list(fields) == ["email", "first_name", "phone"]
    assert (fields["email"]["reached"], fields["email"]["left_here"]) == (4, 1)
    assert (fields["first_name"]["reached"], fields["first_name"]["left_here"]) == (2, 1)
    assert (fields["phone"]["reached"], fields["phone"]["left_here"]) == (0, 0)
    assert fields["email"]["error_rate"] == 0.25


def test_the_served_report_equals_the_raw_reading_over_a_period_and_today():
    # Given the known form and browsers seen on several days, today among them
    data = known_form()
    today = timezone.localdate()
    now = timezone.localtime()
    d = data.day
    # f: starts on the day, leaves; starts again two days later and posts then (its time
    # runs from its first start); g: posts before it starts on a day, then starts, then
    # posts the next day; h: reaches email on the day, phone today, leaves (its last field
    # is today's); i: started yesterday, posts today.
    _event("visitor-f-000000001", _at(d, 9), EventType.FORM_START)
    _event("visitor-f-000000001", _at(d, 9), EventType.FORM_FIELD, field="email", action="focus")
    _event("visitor-f-000000001", _at(d + dt.timedelta(days=2), 9), EventType.FORM_START)
    _post(data.form, "visitor-f-000000001", _at(d + dt.timedelta(days=2), 9, 3), "accepted")
    _post(data.form, "visitor-g-000000001", _at(d, 8), "accepted")
    _event("visitor-g-000000001", _at(d, 8, 30), EventType.FORM_START)
    _post(data.form, "visitor-g-000000001", _at(d + dt.timedelta(days=1), 7), "accepted")
    _event("visitor-h-000000001", _at(d, 17), EventType.FORM_START)
    _event("visitor-h-000000001", _at(d, 17), EventType.FORM_FIELD, field="email", action="focus")
    _event("visitor-h-000000001", now, EventType.FORM_FIELD, field="phone", action="focus")
    yesterday = today - dt.timedelta(days=1)
    _event("visitor-i-000000001", _at(yesterday, 10), EventType.FORM_START)
    _event("visitor-i-000000001", now, EventType.FORM_FIELD, field="first_name", action="focus")
    _post(data.form, "visitor-i-000000001", now, "accepted")
    _event("anonymous-start", now, EventType.FORM_START)
    Event.objects.filter(visitor_id="anonymous-start").update(visitor_id=None)

    # When the days before today are filled
    services.counts_fill()

    # Then every period's served numbers are the raw reading's
    for since, until in (
        (d, d),
        (d, d + dt.timedelta(days=2)),
        (d + dt.timedelta(days=1), today),
        (d - dt.timedelta(days=5), today),
        (today, today),
    ):
        served, raw = served_and_raw(data.form, since, until)
        assert served == raw, (since, until)
    served, raw = served_and_raw(data.form, d - dt.timedelta(days=5), today)
    fields = {row["field"]: row for row in served["fields"]}
    assert served["starts"] == 4 + 4 + 1  # a, b, c, e; f, g, h, i; the anonymous start
    assert fields["phone"]["reached"] == 1  # h, today
    assert (fields["email"]["left_here"], fields["phone"]["left_here"]) == (1, 1)  # b; h


def test_a_late_post_and_a_late_field_event_correct_the_stored_day():
    # Given the known form filled, and a post of visitor b received on the day but not
    # processed yet at the fill
    data = known_form()
    post = Submission.objects.create(
        form=data.form, status=Submission.Status.RECEIVED, data={}, visitor_id="visitor-b-000000001"
    )
    Submission.objects.filter(pk=post.pk).update(created_at=_at(data.day, 11, 2))
    services.counts_fill()
    before = form_report(form=data.form, since=data.day, until=data.day)
    assert (before["submissions"], before["median_seconds_to_complete"]) == (3, 90.0)

    # When it is accepted, and a field event of c on that day arrives late
    Submission.objects.filter(pk=post.pk).update(status=Submission.Status.ACCEPTED)
    _event("visitor-c-000000001", _at(data.day, 12, 1), EventType.FORM_FIELD, field="phone")
    report = services.counts_fill()

    # Then the day is counted again and the served report equals the raw reading
    assert report.days_corrected >= 1
    served, raw = served_and_raw(data.form, data.day, data.day)
    assert served == raw
    fields = {row["field"]: row for row in served["fields"]}
    assert served["submissions"] == 4
    assert served["median_seconds_to_complete"] == 110.0  # 90, 110 (b), 300: nearest rank
    assert (fields["email"]["left_here"], fields["phone"]["left_here"]) == (0, 1)  # b done; c
    assert fields["first_name"]["left_here"] == 0  # c's last field is now the phone


def test_a_browser_flagged_as_a_bot_after_the_fill_no_longer_counts():
    data = known_form()
    services.counts_fill()

    # When visitor c is flagged as a bot, by a page view sent since
    Visitor.objects.filter(id="visitor-c-000000001").update(is_bot=True)
    _event("visitor-c-000000001", timezone.localtime(), EventType.PAGE_VIEW, form="")
    services.counts_fill()

    # Then its start and fields are out of the stored day, as of the raw reading
    served, raw = served_and_raw(data.form, data.day, data.day)
    assert served == raw
    assert (served["views"], served["starts"]) == (3, 3)


def test_before_the_first_fill_the_report_is_the_raw_reading():
    data = known_form()
    assert not FillState.objects.exists()

    served, raw = served_and_raw(data.form, data.day, data.day)

    assert served == raw
    assert served["starts"] == 4
