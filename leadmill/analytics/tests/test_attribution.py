"""The funnel and quality by source under each attribution model (docs/analytics.md,
"Which touch gets the credit"; ADR 60): exact fractional credits on a known set of
journeys, from the raw tail and beside the rollup."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from leadmill.api.services import api_key_create
from leadmill.tracking.models import Event, EventType

from .. import selectors, services
from ..quality import quality
from .known_funnel import at, known_funnel

pytestmark = pytest.mark.django_db

HALF_LIFE_HOURS = 7 * 24


def touch(contact, moment, channel, source, *, visitor=None, type=EventType.PAGE_VIEW, bot=False):
    Event.objects.create(
        contact=contact,
        visitor_id=visitor,
        occurred_at=moment,
        type=type,
        channel=channel,
        source=source,
        is_bot=bot,
    )


@pytest.fixture(params=["raw tail", "rollup"])
def journeys(request):
    """The known funnel's leads with their journeys (oldest first, up to their creation):

    c1 (D1 09:00): google 08:00, facebook 08:30, a bot's linkedin view 08:40 (no touch),
        the newsletter's email click 08:45; bing 10:00 is after it came in
    c2 (D1 12:00): google 08:30, bing 11:30
    c3 (D2 08:00): no tracked touch: its stored first touch, bing
    c4 (D1 15:00): facebook 12:00
    """
    data = known_funnel()
    c1, c2, c4 = (data.contacts[name] for name in ("c1", "c2", "c4"))
    d1 = data.d1
    # The visitors' own views become their leads' (as identification does): v1 08:00 google
    # is c1's, v2 08:30 google c2's, v6 12:00 facebook c4's; later views of the same browsers
    # are no new visitors.
    Event.objects.filter(visitor_id="v1").update(contact=c1)
    Event.objects.filter(visitor_id="v2").update(contact=c2)
    Event.objects.filter(visitor_id="v6").update(contact=c4)
    touch(c1, at(d1, 8, 30), "paid_social", "facebook", visitor="v1")
    touch(c1, at(d1, 8, 40), "paid_social", "linkedin", visitor="v1", bot=True)
    touch(c1, at(d1, 8, 45), "email", "newsletter", type=EventType.EMAIL_CLICK)
    touch(c1, at(d1, 10), "organic_search", "bing", visitor="v1")
    touch(c2, at(d1, 11, 30), "organic_search", "bing", visitor="v2")
    if request.param == "rollup":
        services.counts_fill()
    return data


def funnel_by_source(data, model, **options):
    report = selectors.funnel(
        since=data.d1, until=data.d2, group_by="source", attribution=model, **options
    )
    return report, {row["value"]: row for row in report["rows"]}


def test_first_touch_is_the_default_and_gives_whole_leads(journeys):
    report, rows = funnel_by_source(journeys, "first_touch")

    assert report["attribution"] == "first_touch"
    assert (rows["google"]["leads"], rows["bing"]["leads"], rows["facebook"]["leads"]) == (2, 1, 1)
    assert "newsletter" not in rows
    default = selectors.funnel(since=journeys.d1, until=journeys.d2, group_by="source")
    assert default["rows"] == report["rows"]


def test_linear_shares_each_lead_equally_among_its_touches(journeys):
    report, rows = funnel_by_source(journeys, "linear")

    # c1: a third to google, facebook, newsletter; c2: half to google and bing; c3: bing; c4
    expected_leads = {"google": 1 / 3 + 1 / 2, "facebook": 1 / 3 + 1, "newsletter": 1 / 3}
    expected_leads["bing"] = 1 / 2 + 1
    for source, leads in expected_leads.items():
        assert rows[source]["leads"] == pytest.approx(leads, abs=1e-12)
        assert rows[source]["mqls"] == pytest.approx(leads, abs=1e-12)  # every lead is an MQL
    # SQLs: c1 (a third each) and c3 (bing); customers: c1
    assert rows["google"]["sqls"] == pytest.approx(1 / 3)
    assert rows["bing"]["sqls"] == pytest.approx(1.0)
    assert rows["newsletter"]["customers"] == pytest.approx(1 / 3)
    assert rows["newsletter"]["revenue"].quantize(Decimal("0.01")) == Decimal("333.33")
    # the spend of a source divided by its credited leads
    assert rows["google"]["spend"] == Decimal("100")
    assert rows["google"]["cost_per_lead"] == Decimal("120.00")  # 100 / (5/6)
    assert rows["facebook"]["cost_per_lead"] == Decimal("37.50")  # 50 / (4/3)
    # visitors are credited to their first page view under every model
    assert (rows["google"]["visitors"], rows["bing"]["visitors"]) == (3, 1)
    # and the total is the same under every model
    total = report["total"]
    assert total["leads"] == pytest.approx(4)
    assert (total["visitors"], total["sqls"]) == (5, pytest.approx(2))


def test_last_touch_credits_the_touch_just_before_the_lead_came_in(journeys):
    _report, rows = funnel_by_source(journeys, "last_touch")

    assert rows["newsletter"]["leads"] == pytest.approx(1)  # c1 (not bing, after it came in)
    assert rows["bing"]["leads"] == pytest.approx(2)  # c2 and c3
    assert rows["facebook"]["leads"] == pytest.approx(1)  # c4
    assert rows["google"]["leads"] == 0  # its spend still shows
    assert isinstance(rows["google"]["leads"], float)  # credits, even none: 0.0
    assert rows["google"]["cost_per_lead"] is None
    assert rows["linkedin"]["leads"] == 0  # spend only: a bot's view is no touch


def test_u_shaped_and_time_decay_give_their_exact_shares(journeys):
    _report, u_rows = funnel_by_source(journeys, "u_shaped")
    # c1: 40 % google, 20 % facebook, 40 % newsletter; c2 (two touches): 50 % each
    assert u_rows["google"]["leads"] == pytest.approx(0.4 + 0.5, abs=1e-12)
    assert u_rows["facebook"]["leads"] == pytest.approx(0.2 + 1, abs=1e-12)
    assert u_rows["newsletter"]["customers"] == pytest.approx(0.4, abs=1e-12)

    _report, decay_rows = funnel_by_source(journeys, "time_decay")
    # c1's touches were 60, 30 and 15 minutes before it came in; a share halves every 7 days
    raw = {"google": 2 ** (-1 / HALF_LIFE_HOURS), "facebook": 2 ** (-0.5 / HALF_LIFE_HOURS)}
    raw["newsletter"] = 2 ** (-0.25 / HALF_LIFE_HOURS)
    c1 = {source: weight / sum(raw.values()) for source, weight in raw.items()}
    # c2's: 3.5 hours and half an hour before
    c2 = {"google": 2 ** (-3.5 / HALF_LIFE_HOURS), "bing": 2 ** (-0.5 / HALF_LIFE_HOURS)}
    c2 = {source: weight / sum(c2.values()) for source, weight in c2.items()}
    assert decay_rows["newsletter"]["leads"] == pytest.approx(c1["newsletter"], abs=1e-12)
    assert decay_rows["google"]["leads"] == pytest.approx(c1["google"] + c2["google"], abs=1e-12)
    assert decay_rows["bing"]["leads"] == pytest.approx(c2["bing"] + 1, abs=1e-12)


def test_the_window_the_activity_reading_and_the_filters_apply_to_credits(journeys):
    # c4's MQL came 40 days after it came in: out of a 30-day window
    _report, rows = funnel_by_source(journeys, "linear", window_days=30)
    assert rows["facebook"]["mqls"] == pytest.approx(1 / 3)
    # activity on D2: c2's MQL happened then (half google, half bing)
    report = selectors.funnel(
        since=journeys.d2,
        until=journeys.d2,
        group_by="source",
        attribution="linear",
        reading="activity",
    )
    rows = {row["value"]: row for row in report["rows"]}
    assert rows["google"]["mqls"] == pytest.approx(0.5)
    # a filter on a touch's column keeps the credit of the touches that match
    _report, rows = funnel_by_source(journeys, "linear", filters={"channel": "paid_social"})
    assert {source for source, row in rows.items() if row["leads"]} == {"facebook"}
    assert rows["facebook"]["leads"] == pytest.approx(4 / 3)
    # a filter on the lead's country keeps its leads: c3 is the one from Portugal
    _report, rows = funnel_by_source(journeys, "linear", filters={"country": "PT"})
    assert {source: row["leads"] for source, row in rows.items() if row["leads"]} == {"bing": 1}


def test_days_between_stages_are_credit_weighted_percentiles(journeys):
    _report, rows = funnel_by_source(journeys, "linear")
    # google: c1 (a third, 0 days to MQL) and c2 (a half, 1 day): half the weight is past 0
    assert rows["google"]["median_days_lead_to_mql"] == 1
    # facebook: c1 (a third, 0 days) and c4 (whole, 40 days)
    assert rows["facebook"]["median_days_lead_to_mql"] == 40
    assert rows["bing"]["median_days_lead_to_mql"] == 2  # c2 1 day (half), c3 2 days (whole)


def test_quality_by_source_under_linear_attribution(journeys):
    report = quality(since=journeys.d1, until=journeys.d2, group_by="source", attribution="linear")
    rows = {row["value"]: row for row in report["rows"]}

    assert report["attribution"] == "linear"
    assert rows["google"]["leads"] == pytest.approx(5 / 6)
    assert rows["google"]["sql_share"] == pytest.approx((1 / 3) / (5 / 6))
    assert rows["newsletter"]["revenue"].quantize(Decimal("0.01")) == Decimal("333.33")
    assert report["total"]["leads"] == pytest.approx(4)
    assert rows["google"]["average_fit_score"] is None  # no scores stored


def test_a_model_applies_only_to_a_touchs_columns():
    today = dt.date.today()
    report = selectors.funnel(since=today, until=today, group_by="form", attribution="linear")
    assert report["attribution"] == "first_touch"


def test_the_dashboard_shows_cost_by_source_under_the_chosen_model(admin, journeys):
    query = {
        "since": journeys.d1.isoformat(),
        "until": journeys.d2.isoformat(),
        "attribution": "linear",
    }

    response = admin.get(reverse("analytics_dashboard"), query)

    # Then the cost per lead table counts credits with one decimal, and says the model
    assert response.status_code == 200
    page = response.content.decode()
    assert '<option value="linear" selected>Linear</option>' in page
    assert "Attribution: Linear. A lead&#x27;s credit is shared equally" in page
    section = next(s for s in response.context["sections"] if s["id"] == "cost_by_source")
    shown = {row[0]: row for row in section["table"].shown_rows()}
    assert shown["google"][1:4] == ["100.00", "0.8", "120.00"]  # spend, leads, cost per lead
    assert shown["facebook"][2:4] == ["1.3", "37.50"]
    # and the CSV carries the credits themselves
    export = admin.get(reverse("analytics_dashboard"), {**query, "export": "cost_by_source"})
    rows = {row[0]: row for row in csv.reader(io.StringIO(export.content.decode()))}
    assert rows["google"][2] == "0.833333"


def test_the_quality_screen_takes_the_model_and_the_breakdown_by_group_too(admin, journeys):
    query = {"since": journeys.d1.isoformat(), "until": journeys.d2.isoformat()}

    quality_page = admin.get(
        reverse("analytics_quality"), {**query, "group_by": "source", "attribution": "last_touch"}
    )
    dashboard = admin.get(
        reverse("analytics_dashboard"),
        {**query, "group_by": "channel", "attribution": "last_touch"},
    )

    quality_rows = {
        row[0]: row for row in quality_page.context["sections"][0]["table"].shown_rows()
    }
    assert quality_rows["newsletter"][1] == "1.0"
    assert "Attribution: Last touch." in quality_page.content.decode()
    section = next(s for s in dashboard.context["sections"] if s["id"] == "funnel_by_group")
    channels = {row[0]: row for row in section["table"].shown_rows()}
    assert channels["Email"][2] == "1.0"  # leads
    assert channels["Organic search"][2] == "2.0"


def test_the_api_takes_the_model_and_refuses_it_where_it_changes_nothing(client, journeys):
    _key, secret = api_key_create(name="bi", scopes=["analytics:read"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    query = {"since": journeys.d1.isoformat(), "until": journeys.d2.isoformat()}

    funnel = client.get(
        "/api/v1/analytics/funnel",
        {**query, "group_by": "source", "attribution": "u_shaped"},
        **auth,
    )
    quality_answer = client.get(
        "/api/v1/analytics/quality",
        {**query, "group_by": "source", "attribution": "linear"},
        **auth,
    )
    refused = client.get(
        "/api/v1/analytics/funnel", {**query, "group_by": "form", "attribution": "linear"}, **auth
    )
    unknown = client.get("/api/v1/analytics/funnel", {**query, "attribution": "w_shaped"}, **auth)

    assert funnel.status_code == 200, funnel.content
    body = funnel.json()
    assert body["attribution"] == "u_shaped"
    rows = {row["value"]: row for row in body["rows"]}
    assert rows["google"]["leads"] == pytest.approx(0.9)
    assert rows["newsletter"]["revenue"] == "400.00"  # 40 % of c1's 1000.00
    assert quality_answer.status_code == 200, quality_answer.content
    quality_rows = {row["value"]: row for row in quality_answer.json()["rows"]}
    assert quality_rows["bing"]["leads"] == pytest.approx(1.5)
    assert refused.status_code == 400
    assert refused.json()["code"] == "attribution_needs_touch_group"
    assert unknown.status_code == 422


def test_a_lead_erased_between_its_rows_and_its_journey_counts_nowhere(journeys, monkeypatch):
    from .. import credits

    c3 = journeys.contacts["c3"]
    read_rows = credits.lead_rows

    def rows_then_erase(start, end):
        rows = list(read_rows(start, end))
        c3.delete()  # an erasure commits between the two reads
        return rows

    monkeypatch.setattr(credits, "lead_rows", rows_then_erase)

    # The raw reading (what the fill stores, ADR 65; a report before the first fill)
    credited, _created = credits.credited_rows(
        since=journeys.d1, until=journeys.d2, group_by="source", model="linear", filters={}
    )

    bing = sum(
        credit
        for metric, group, _lag, credit, _amount in credited
        if (metric, group) == ("leads", "bing")
    )
    assert bing == pytest.approx(0.5)  # c2's half; c3 is gone
