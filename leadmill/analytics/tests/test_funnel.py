"""The funnel of a known set of visitors, leads, stage changes, outcomes and spend: exact
counts, rates, times between stages and costs, from the raw tables and from the rollup."""

import datetime as dt
from decimal import Decimal

import pytest

from .. import selectors, services
from ..models import DailyCount
from .known_funnel import at, known_funnel, lead, stage

pytestmark = pytest.mark.django_db


def by_value(report):
    return {row["value"]: row for row in report["rows"]}


@pytest.fixture(params=["raw tail", "rollup"])
def funnel_data(request):
    data = known_funnel()
    if request.param == "rollup":
        report = services.counts_fill()
        assert report.filled_until == dt.date.today() or report.filled_until > data.d2
        assert DailyCount.objects.filter(day=data.d1).exists()
    return data


def test_cohort_funnel_by_source_counts_rates_costs_and_revenue(funnel_data):
    # When the cohort funnel of D1..D2 is broken down by source
    report = selectors.funnel(since=funnel_data.d1, until=funnel_data.d2, group_by="source")
    rows = by_value(report)

    # Then each source has exactly its visitors, leads and stages
    google = rows["google"]
    assert (google["visitors"], google["leads"], google["mqls"], google["sqls"]) == (3, 2, 2, 1)
    assert google["customers"] == 1
    assert google["visitor_to_lead_rate"] == pytest.approx(2 / 3)
    assert google["lead_to_mql_rate"] == 1.0
    assert google["mql_to_sql_rate"] == 0.5
    assert google["spend"] == Decimal("100.00")
    assert google["cost_per_lead"] == Decimal("50.00")
    assert google["cost_per_sql"] == Decimal("100.00")
    assert google["cost_per_customer"] == Decimal("100.00")
    assert google["revenue"] == Decimal("1000.00")
    assert google["return_on_spend"] == 10.0
    bing = rows["bing"]
    assert (bing["visitors"], bing["leads"], bing["mqls"], bing["sqls"], bing["customers"]) == (
        1,
        1,
        1,
        1,
        0,
    )
    assert bing["sql_to_customer_rate"] == 0.0
    assert bing["cost_per_customer"] is None  # no customer: no figure, no division error
    facebook = rows["facebook"]
    assert (facebook["visitors"], facebook["leads"], facebook["mqls"]) == (1, 1, 1)
    assert facebook["cost_per_lead"] == Decimal("50.00")
    # and a source with spend and no lead shows its spend, and no cost per lead
    linkedin = rows["linkedin"]
    assert (linkedin["visitors"], linkedin["leads"], linkedin["spend"]) == (0, 0, Decimal("30"))
    assert linkedin["cost_per_lead"] is None
    assert linkedin["visitor_to_lead_rate"] is None
    # and the bot visitor and the bot page view are not counted
    total = report["total"]
    assert (total["visitors"], total["leads"], total["mqls"], total["sqls"]) == (5, 4, 4, 2)
    assert total["customers"] == 1
    assert total["spend"] == Decimal("180.00")
    assert total["cost_per_mql"] == Decimal("45.00")
    assert report["reference_visitor_to_lead_rate"] == pytest.approx(0.029)


def test_times_between_stages_are_nearest_rank_whole_days(funnel_data):
    total = selectors.funnel(since=funnel_data.d1, until=funnel_data.d2)["total"]
    # lead -> MQL: 0, 1, 2, 40 days; MQL -> SQL: 2 (c1), 0 (c3); SQL -> customer: 6 (c1)
    assert (total["median_days_lead_to_mql"], total["p90_days_lead_to_mql"]) == (1, 40)
    assert (total["median_days_mql_to_sql"], total["p90_days_mql_to_sql"]) == (0, 2)
    assert (total["median_days_sql_to_customer"], total["p90_days_sql_to_customer"]) == (6, 6)


def test_cohort_window_leaves_out_stages_reached_later(funnel_data):
    report = selectors.funnel(
        since=funnel_data.d1, until=funnel_data.d2, group_by="source", window_days=30
    )
    assert by_value(report)["facebook"]["mqls"] == 0
    assert report["total"]["mqls"] == 3


def test_activity_reading_counts_stages_reached_in_the_period(funnel_data):
    # D1..D2: only c1 (D1) and c2 (D2) became MQLs in it
    short = selectors.funnel(since=funnel_data.d1, until=funnel_data.d2, reading="activity")
    assert (short["total"]["mqls"], short["total"]["sqls"], short["total"]["customers"]) == (
        2,
        0,
        0,
    )
    # D1..D1+10: c1 all the way, c2 MQL, c3 SQL (and so MQL); the won deal's revenue
    end = funnel_data.d1 + dt.timedelta(days=10)
    long = selectors.funnel(since=funnel_data.d1, until=end, reading="activity")["total"]
    assert (long["mqls"], long["sqls"], long["customers"]) == (3, 2, 1)
    assert long["revenue"] == Decimal("1000.00")


def test_breakdowns_by_form_offer_country_and_landing_page(funnel_data):
    since, until = funnel_data.d1, funnel_data.d2
    forms = by_value(selectors.funnel(since=since, until=until, group_by="form"))
    # the spam post on the ebook form credits nothing
    assert (forms["ebook"]["leads"], forms["demo"]["leads"], forms[""]["leads"]) == (1, 1, 2)
    assert forms["ebook"]["label"] == "Ebook"
    offers = by_value(selectors.funnel(since=since, until=until, group_by="offer"))
    assert offers[str(funnel_data.f1.offer_id)]["leads"] == 1
    assert offers[str(funnel_data.f1.offer_id)]["label"] == "Ebook offer"
    assert offers[""]["leads"] == 3
    countries = by_value(selectors.funnel(since=since, until=until, group_by="country"))
    assert (countries["BR"]["leads"], countries["PT"]["leads"]) == (3, 1)
    pages = by_value(selectors.funnel(since=since, until=until, group_by="landing_page"))
    assert (pages["/ebook/"]["visitors"], pages["/ebook/"]["leads"]) == (5, 4)


def test_filter_by_source_narrows_every_number(funnel_data):
    report = selectors.funnel(
        since=funnel_data.d1, until=funnel_data.d2, filters={"source": "google"}
    )
    assert (report["total"]["visitors"], report["total"]["leads"]) == (3, 2)
    assert report["total"]["spend"] == Decimal("100.00")
    # a filter on a dimension spend does not carry makes spend unknown, not zero
    by_form = selectors.funnel(
        since=funnel_data.d1, until=funnel_data.d2, filters={"form": funnel_data.f1.pk}
    )
    assert by_form["total"]["leads"] == 1
    assert by_form["total"]["spend"] is None
    assert by_form["total"]["cost_per_lead"] is None


def test_a_period_with_spend_and_nothing_else_shows_its_cost():
    day = dt.date.today() - dt.timedelta(days=3)
    from ..models import Spend

    Spend.objects.create(day=day, source="linkedin", amount=Decimal("12.50"), currency="USD")
    total = selectors.funnel(since=day, until=day)["total"]
    assert total["spend"] == Decimal("12.50")
    assert (total["leads"], total["cost_per_lead"], total["return_on_spend"]) == (0, None, 0.0)


@pytest.mark.parametrize("read_from", ["raw tables", "rollup"])
def test_whole_days_between_stages_are_exact_to_the_microsecond(read_from):
    # Given two leads created at 10:00:00.000001: one became an MQL one microsecond short of
    # a day later, the other exactly one day later (and an SQL 3 days after that)
    day = dt.date.today() - dt.timedelta(days=20)
    created = at(day, 10) + dt.timedelta(microseconds=1)
    short, full = (lead(name, created, "google", "paid_search") for name in ("short", "full"))
    stage(short, "mql", at(day, 10, days=1))
    stage(full, "mql", created + dt.timedelta(days=1))
    stage(full, "sql", created + dt.timedelta(days=4))
    if read_from == "rollup":
        services.counts_fill()
        assert DailyCount.objects.filter(day=day).exists()

    # When the cohort of that day is read
    tally = selectors.tallies(since=day, until=day, group_by=None)[""]

    # Then the first took 0 whole days to MQL and the second 1; MQL to SQL took 3
    assert tally.lags["gap_lead_mql"] == {0: 1, 1: 1}
    assert tally.lags["cohort_mql"] == {0: 1, 1: 1}
    assert tally.lags["gap_mql_sql"] == {3: 1}
    assert tally.lags["cohort_sql"] == {4: 1}
