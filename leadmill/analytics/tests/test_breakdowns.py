"""The funnel broken down by CTA and by segment (docs/analytics.md, "Breakdowns"; ADR 59),
on the known funnel: exact counts from the raw tables and from the rollup."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from leadmill.api.services import api_key_create
from leadmill.contacts.models import Contact
from leadmill.segments.models import Segment, SegmentMember

from .. import selectors, services
from ..counts import cta_of
from ..models import FillState, LeadRow
from .known_funnel import at, cta_click, known_cta_clicks, known_funnel

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["raw tail", "rollup"])
def funnel_data(request):
    data = known_funnel()
    known_cta_clicks(data)
    if request.param == "rollup":
        services.counts_fill()
    return data


def by_value(report):
    return {row["value"]: row for row in report["rows"]}


def stages(row):
    return (row["visitors"], row["leads"], row["mqls"], row["sqls"], row["customers"])


def test_a_lead_is_credited_to_the_cta_it_clicked_last_before_it_came_in(funnel_data):
    # When the cohort funnel of D1..D2 is broken down by CTA
    report = selectors.funnel(since=funnel_data.d1, until=funnel_data.d2, group_by="cta")
    rows = by_value(report)

    # Then each CTA has its leads and what they reached; visitors click no CTA of their own
    assert set(rows) == {"", "ebook-cta", "hero-button", "demo-cta"}
    assert stages(rows["ebook-cta"]) == (0, 1, 1, 1, 1)  # c1
    assert rows["ebook-cta"]["label"] == "Get the ebook"
    assert rows["ebook-cta"]["revenue"] == Decimal("1000.00")
    assert stages(rows["hero-button"]) == (0, 1, 1, 0, 0)  # c2
    assert rows["hero-button"]["label"] == "hero-button"  # a site's own button, as named
    assert stages(rows["demo-cta"]) == (0, 1, 1, 0, 0)  # c4, not its bot visitor's click
    assert rows["demo-cta"]["label"] == "Book a demo"
    assert stages(rows[""]) == (5, 1, 1, 1, 0)  # c3: a bot's click is none
    assert rows["ebook-cta"]["spend"] is None  # spend is not entered per CTA
    # and the rows add up to the total (a partition)
    assert stages(report["total"]) == (5, 4, 4, 2, 1)

    # and the conversion window counts c4's MQL (40 days after) out
    windowed = selectors.funnel(
        since=funnel_data.d1, until=funnel_data.d2, group_by="cta", window_days=30
    )
    assert by_value(windowed)["demo-cta"]["mqls"] == 0


def test_a_late_cta_click_corrects_the_filled_days(funnel_data):
    # Given the counts are filled
    services.counts_fill()
    c3 = funnel_data.contacts["c3"]
    # When a click of c3 from before it came in is stored late, and the fill runs
    cta_click(c3, "/c/demo-cta/", at(funnel_data.d2, 7, 30))
    report = services.counts_fill()

    # Then its day is counted again and c3 is credited to the CTA
    assert report.days_corrected >= 1
    rows = by_value(selectors.funnel(since=funnel_data.d1, until=funnel_data.d2, group_by="cta"))
    assert stages(rows["demo-cta"]) == (0, 2, 2, 1, 0)
    assert stages(rows[""]) == (5, 0, 0, 0, 0)


def test_each_segment_counts_the_leads_of_the_period_in_it_now(funnel_data):
    # Given a static list of c1 and c3, a dynamic segment of Brazil (c1, c2, c4), an empty list
    listed = Segment.objects.create(name="Listed", kind=Segment.Kind.STATIC)
    for name in ("c1", "c3"):
        SegmentMember.objects.create(segment=listed, contact=funnel_data.contacts[name])
    brazil = Segment.objects.create(
        name="Brazil",
        definition={
            "match": "all",
            "conditions": [{"field": "country", "op": "equals", "value": "BR"}],
        },
    )
    empty = Segment.objects.create(name="Empty", kind=Segment.Kind.STATIC)

    # When the cohort funnel is broken down by segment
    report = selectors.funnel(since=funnel_data.d1, until=funnel_data.d2, group_by="segment")

    # Then one row per segment, by name, with its members' numbers and no visitors nor spend
    assert [row["label"] for row in report["rows"]] == ["Brazil", "Empty", "Listed"]
    rows = by_value(report)
    assert stages(rows[brazil.pk]) == (None, 3, 3, 1, 1)
    assert rows[brazil.pk]["revenue"] == Decimal("1000.00")
    assert rows[brazil.pk]["lead_to_mql_rate"] == 1.0
    assert rows[brazil.pk]["median_days_lead_to_mql"] == 1  # 0, 1, 40 days
    assert stages(rows[listed.pk]) == (None, 2, 2, 2, 1)
    assert rows[listed.pk]["mql_to_sql_rate"] == 1.0
    assert stages(rows[empty.pk]) == (None, 0, 0, 0, 0)
    assert rows[listed.pk]["spend"] is None
    assert rows[listed.pk]["visitor_to_lead_rate"] is None
    # and the total is every lead's, not the sum of the rows (c1 is in two segments)
    assert stages(report["total"]) == (5, 4, 4, 2, 1)

    # and the window and the activity reading apply to segments too
    windowed = selectors.funnel(
        since=funnel_data.d1, until=funnel_data.d2, group_by="segment", window_days=30
    )
    assert by_value(windowed)[brazil.pk]["mqls"] == 2
    # D1 alone, activity: MQLs that happened on D1 (c1's), whenever the lead came in
    activity = selectors.funnel(
        since=funnel_data.d1, until=funnel_data.d1, group_by="segment", reading="activity"
    )
    assert stages(by_value(activity)[brazil.pk]) == (None, 3, 1, 0, 0)
    # and the filters apply to the segment rows: Brazil's google leads are c1 and c2
    google = selectors.funnel(
        since=funnel_data.d1,
        until=funnel_data.d2,
        group_by="segment",
        filters={"source": "google"},
    )
    assert stages(by_value(google)[brazil.pk]) == (None, 2, 2, 1, 1)


@pytest.mark.parametrize("funnel_data", ["raw tail"], indirect=True)
def test_segment_rows_from_the_stored_lead_rows_equal_the_raw_count(funnel_data):
    # Given a static list, a dynamic segment and every reading of the segments' funnel
    # counted from the raw tables (no fill yet)
    listed = Segment.objects.create(name="Listed", kind=Segment.Kind.STATIC)
    for name in ("c1", "c3"):
        SegmentMember.objects.create(segment=listed, contact=funnel_data.contacts[name])
    Segment.objects.create(
        name="Brazil",
        definition={
            "match": "all",
            "conditions": [{"field": "country", "op": "equals", "value": "BR"}],
        },
    )
    today = timezone.localdate()

    def reports():
        return [
            selectors.funnel(
                since=funnel_data.d1, until=until, group_by="segment", reading=reading, **window
            )
            for until in (funnel_data.d1, funnel_data.d2, today)
            for reading, window in (
                ("cohort", {}),
                ("cohort", {"window_days": 30}),
                ("activity", {}),
            )
        ]

    raw = reports()
    assert by_value(raw[3])[listed.pk]["leads"] == 2  # D1 to D2: c1 and c3 came in

    # When the fill has counted D1 only (D2 on is the raw tail), then every day
    services.counts_fill(until=funnel_data.d2)
    assert LeadRow.objects.filter(day=funnel_data.d1, metric="leads").count() == 3
    with_tail = reports()
    services.counts_fill()
    stored = reports()

    # Then the segments' rows are the raw count's
    assert with_tail == raw
    assert stored == raw
    # and a member who leaves the segment leaves its rows at once (members now)
    SegmentMember.objects.filter(segment=listed, contact=funnel_data.contacts["c3"]).delete()
    cache.clear()
    assert by_value(reports()[3])[listed.pk]["leads"] == 1


def brazil_segment() -> Segment:
    return Segment.objects.create(
        name="Brazil",
        definition={
            "match": "all",
            "conditions": [{"field": "country", "op": "equals", "value": "BR"}],
        },
    )


def move(contact, country: str) -> None:
    """The contact's country edited (as its edit form saves it: ``updated_at`` moves)."""
    Contact.objects.filter(pk=contact.pk).update(country=country, updated_at=timezone.now())


def segment_leads(data, segment: Segment) -> int:
    report = selectors.funnel(since=data.d1, until=data.d2, group_by="segment")
    return by_value(report)[segment.pk]["leads"]


def raw_segment_leads(data, segment: Segment) -> int:
    """The segment's leads counted from the raw tables (no fill state: nothing kept), the
    fill state put back after."""
    state = FillState.objects.get()
    FillState.objects.filter(pk=state.pk).update(filled_until=None)
    try:
        return segment_leads(data, segment)
    finally:
        FillState.objects.filter(pk=state.pk).update(filled_until=state.filled_until)


@pytest.mark.parametrize("funnel_data", ["rollup"], indirect=True)
def test_segment_rows_are_kept_as_of_their_count_until_they_expire(funnel_data):
    # Given a filled funnel and Brazil's rows (c1, c2, c4) read once
    brazil = brazil_segment()
    assert segment_leads(funnel_data, brazil) == raw_segment_leads(funnel_data, brazil) == 3

    # When c3 moves to Brazil within the minute
    move(funnel_data.contacts["c3"], "BR")

    # Then the report still answers the members of the moment it counted them
    assert segment_leads(funnel_data, brazil) == 3
    assert raw_segment_leads(funnel_data, brazil) == 4

    # and once the kept rows expire, the members now again: the raw count
    cache.clear()
    assert segment_leads(funnel_data, brazil) == raw_segment_leads(funnel_data, brazil) == 4


@pytest.mark.parametrize("funnel_data", ["rollup"], indirect=True)
def test_an_edited_segment_or_a_fill_counts_the_segment_rows_again_at_once(funnel_data):
    # Given Brazil's rows read once (c1, c2, c4)
    brazil = brazil_segment()
    assert segment_leads(funnel_data, brazil) == 3

    # When the segment is edited to Portugal (c3), nothing expired
    brazil.definition = {
        "match": "all",
        "conditions": [{"field": "country", "op": "equals", "value": "PT"}],
    }
    brazil.save()

    # Then its rows are counted again at once
    assert segment_leads(funnel_data, brazil) == raw_segment_leads(funnel_data, brazil) == 1

    # and when c1 moves to Portugal and the fill counts its days again, at once too
    move(funnel_data.contacts["c1"], "PT")
    assert segment_leads(funnel_data, brazil) == 1
    assert services.counts_fill().days_corrected >= 1
    assert segment_leads(funnel_data, brazil) == raw_segment_leads(funnel_data, brazil) == 2


@override_settings(LEADMILL_ANALYTICS_TAIL_SECONDS=0)
@pytest.mark.parametrize("funnel_data", ["rollup"], indirect=True)
def test_with_no_seconds_to_keep_the_segment_rows_are_counted_on_each_read(funnel_data):
    brazil = brazil_segment()
    assert segment_leads(funnel_data, brazil) == 3
    move(funnel_data.contacts["c3"], "BR")
    assert segment_leads(funnel_data, brazil) == 4


def test_a_cta_is_named_by_its_short_link_slug_or_as_the_site_named_it():
    assert cta_of("/c/ebook-cta/") == "ebook-cta"
    assert cta_of("/c/ebook-cta") == "ebook-cta"
    assert cta_of("hero-button") == "hero-button"
    assert cta_of("/c/a/b/") == "/c/a/b/"
    assert cta_of("") == ""


def test_the_dashboard_breaks_the_funnel_down_by_cta_and_exports_it(admin, funnel_data):
    query = {"since": funnel_data.d1.isoformat(), "until": funnel_data.d2.isoformat()}

    # When the marketer breaks the funnel down by CTA on the dashboard
    response = admin.get(reverse("analytics_dashboard"), {**query, "group_by": "cta"})

    # Then a table and a chart per CTA, named by label, with the definition
    assert response.status_code == 200
    page = response.content.decode()
    assert '<option value="cta" selected>Call to action</option>' in page
    section = next(s for s in response.context["sections"] if s["id"] == "funnel_by_group")
    assert section["chart"] is not None
    shown = {row[0]: row[1:6] for row in section["table"].shown_rows()}
    assert shown["Get the ebook"] == ["0", "1", "1", "1", "1"]
    assert shown["(none)"] == ["5", "1", "1", "1", "0"]
    assert "the call to action it clicked last before it came in" in page

    # and its CSV has the same rows, the total last
    export = admin.get(
        reverse("analytics_dashboard"), {**query, "group_by": "cta", "export": "funnel_by_group"}
    )
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][:6] == ["Call to action", "Visitors", "Leads", "MQLs", "SQLs", "Customers"]
    assert sorted(row[:6] for row in rows[1:-1]) == [
        ["(none)", "5", "1", "1", "1", "0"],
        ["Book a demo", "0", "1", "1", "0", "0"],
        ["Get the ebook", "0", "1", "1", "1", "1"],
        ["hero-button", "0", "1", "1", "0", "0"],
    ]
    assert rows[-1][:6] == ["Total", "5", "4", "4", "2", "1"]


def test_the_dashboard_breaks_the_funnel_down_by_segment(admin, funnel_data):
    listed = Segment.objects.create(name="Listed", kind=Segment.Kind.STATIC)
    SegmentMember.objects.create(segment=listed, contact=funnel_data.contacts["c3"])
    query = {"since": funnel_data.d1.isoformat(), "until": funnel_data.d2.isoformat()}

    response = admin.get(
        reverse("analytics_dashboard"),
        {**query, "group_by": "segment", "export": "funnel_by_group"},
    )

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "Segment (members now)"
    assert rows[1][:6] == ["Listed", "", "1", "1", "1", "0"]  # no visitors: empty, not 0
    assert rows[-1][:6] == ["All leads (not the sum of the rows)", "5", "4", "4", "2", "1"]


def test_the_api_breaks_the_funnel_down_by_cta_and_by_segment(client, funnel_data):
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])
    listed = Segment.objects.create(name="Listed", kind=Segment.Kind.STATIC)
    SegmentMember.objects.create(segment=listed, contact=funnel_data.contacts["c1"])
    query = {"since": funnel_data.d1.isoformat(), "until": funnel_data.d2.isoformat()}

    by_cta = client.get(
        "/api/v1/analytics/funnel",
        {**query, "group_by": "cta"},
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    by_segment = client.get(
        "/api/v1/analytics/funnel",
        {**query, "group_by": "segment", "window_days": 30},
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )

    assert by_cta.status_code == 200, by_cta.content
    ctas = {row["value"]: row for row in by_cta.json()["rows"]}
    assert stages(ctas["ebook-cta"]) == (0, 1, 1, 1, 1)
    assert ctas["ebook-cta"]["label"] == "Get the ebook"
    assert ctas["ebook-cta"]["revenue"] == "1000.00"
    assert by_segment.status_code == 200, by_segment.content
    (row,) = by_segment.json()["rows"]
    assert (row["value"], row["label"]) == (listed.pk, "Listed")
    assert stages(row) == (None, 1, 1, 1, 1)
    assert (row["spend"], row["visitor_to_lead_rate"]) == (None, None)
