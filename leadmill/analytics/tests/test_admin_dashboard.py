"""The analytics screens: the known funnel's numbers in the tables, the CSV export equal to
the table, filters and the previous period, permissions, and the spend upload."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from leadmill.core.setup import groups_ensure
from leadmill.scoring.models import ContactScore

from ..models import Spend
from .known_funnel import known_funnel

pytestmark = pytest.mark.django_db


def period(data, **extra):
    return {"since": data.d1.isoformat(), "until": data.d2.isoformat(), **extra}


def csv_rows(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_dashboard_shows_the_known_funnel_with_its_definitions(admin):
    data = known_funnel()

    response = admin.get(reverse("analytics_dashboard"), period(data))

    assert response.status_code == 200
    page = response.content.decode()
    assert '<svg role="img"' in page  # the charts, inline
    assert "<script" not in page.split('id="section-summary"')[1].split("</main>")[0]
    summary = {card["key"]: card["value"] for card in response.context["sections"][0]["cards"]}
    assert summary == {"visitors": "5", "leads": "4", "mqls": "4", "sqls": "2", "customers": "1"}
    assert "Leads whose stage history reaches SQL" in page  # the definition beside it
    assert "Cohort: of the leads created in the period" in page  # the reading, labelled


def test_the_funnel_table_exports_as_csv_with_the_same_rows(admin):
    data = known_funnel()

    rows = csv_rows(admin.get(reverse("analytics_dashboard"), period(data, export="funnel")))

    assert rows[0] == [
        "Stage",
        "Number",
        "Rate from the stage before",
        "Median days from the stage before",
    ]
    assert rows[1:] == [
        ["Visitors", "5", "", ""],
        ["Leads", "4", "0.8", ""],
        ["MQLs", "4", "1", "1"],
        ["SQLs", "2", "0.5", "0"],  # c1 2 days, c3 0 (straight to SQL): nearest rank
        ["Customers", "1", "0.5", "6"],
    ]


def test_leads_per_day_by_channel_and_its_csv(admin):
    data = known_funnel()

    rows = csv_rows(admin.get(reverse("analytics_dashboard"), period(data, export="leads_per_day")))

    assert rows[0] == ["Day", "Organic search", "Paid search", "Paid social", "Leads"]
    assert rows[1:] == [
        [data.d1.isoformat(), "0", "2", "1", "3"],
        [data.d2.isoformat(), "1", "0", "0", "1"],
        ["Total", "1", "2", "1", "4"],
    ]


def test_cost_per_lead_by_source_shows_a_source_with_spend_and_no_lead(admin):
    data = known_funnel()

    rows = csv_rows(
        admin.get(reverse("analytics_dashboard"), period(data, export="cost_by_source"))
    )

    by_source = {row[0]: row for row in rows[1:]}
    assert by_source["google"][1:4] == ["100.00", "2", "50.00"]
    assert by_source["linkedin"][1:4] == ["30.00", "0", ""]  # its cost, no division error
    assert by_source["Total"][1:4] == ["180.00", "4", "45.00"]


def test_the_source_filter_and_the_previous_period_change_the_numbers(admin):
    data = known_funnel()

    filtered = admin.get(
        reverse("analytics_dashboard"), period(data, source="google", compare="on")
    )

    cards = {card["key"]: card for card in filtered.context["sections"][0]["cards"]}
    assert (cards["visitors"]["value"], cards["leads"]["value"]) == ("3", "2")
    assert cards["leads"]["before"] == "0"  # nothing in the two days before
    rate = csv_rows(
        admin.get(
            reverse("analytics_dashboard"),
            period(data, source="google", reference="5", export="visitor_to_lead"),
        )
    )
    assert rate[1:] == [["This period", "0.666667"], ["Reference", "0.05"]]


def test_a_hostile_period_falls_back_to_the_default_with_an_error_shown(admin):
    response = admin.get(
        reverse("analytics_dashboard"), {"since": "2026-02-30", "until": "x", "form": "99999"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors


def test_quality_by_source_counts_shares_scores_revenue_and_days(admin):
    data = known_funnel()
    now = timezone.now()
    ContactScore.objects.create(
        contact=data.contacts["c1"],
        fit_score=40,
        engagement_score=0,
        engagement_at=now,
        predictive_probability=0.8,
        updated_at=now,
    )
    ContactScore.objects.create(
        contact=data.contacts["c2"],
        fit_score=21,
        engagement_score=0,
        engagement_at=now,
        updated_at=now,
    )

    rows = csv_rows(admin.get(reverse("analytics_quality"), period(data, export="quality")))

    by_source = {row[0]: row for row in rows[1:]}
    # label, leads, MQL, SQL, customer shares, fit, engagement, predictive, revenue, days
    assert by_source["google"][:5] == ["google", "2", "1", "0.5", "0.5"]
    assert by_source["google"][5:8] == ["30.5", "0", "0.8"]  # fit, engagement, predictive
    assert by_source["google"][8:] == ["1000.00", "3", "10"]
    assert by_source["facebook"][5:8] == ["", "", ""]  # no scores: no average
    assert by_source["bing"][:5] == ["bing", "1", "1", "1", "0"]
    assert by_source["Total"][1] == "4"


def test_analytics_needs_the_view_permission(client, django_user_model):
    user = django_user_model.objects.create_user("sales", "s@example.com", "pw")
    groups_ensure()
    user.groups.add(Group.objects.get(name="Sales"))
    client.force_login(user)

    assert client.get(reverse("analytics_dashboard")).status_code in (302, 403)

    user.groups.add(Group.objects.get(name="Marketing"))
    assert client.get(reverse("analytics_dashboard")).status_code == 200


def test_spend_upload_records_rows_and_refuses_another_currency(admin):
    good = SimpleUploadedFile(
        "spend.csv",
        b"date,channel,source,campaign,amount,currency\n"
        b"2026-11-02,paid_search,google,black-friday,120.50,USD\n",
    )
    response = admin.post(reverse("analytics_spend"), {"file": good})
    assert response.status_code == 302
    assert Spend.objects.get(source="google").amount == Decimal("120.50")

    bad = SimpleUploadedFile(
        "spend.csv",
        b"date,source,amount,currency\n2026-11-03,meta,10,USD\n2026-11-03,bing,9,EUR\n",
    )
    response = admin.post(reverse("analytics_spend"), {"file": bad})

    assert response.status_code == 200
    assert "Row 2 is in EUR, but spend is reported in USD" in response.content.decode()
    assert not Spend.objects.filter(source="meta").exists()  # nothing of the file was kept


def test_spend_upload_needs_the_add_permission(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", "v@example.com", "pw")
    user.user_permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="view_dailycount"),
    )
    client.force_login(user)
    upload = SimpleUploadedFile("s.csv", b"date,amount,currency\n2026-11-03,1,USD\n")

    response = client.post(reverse("analytics_spend"), {"file": upload})

    assert response.status_code in (302, 403)  # Wagtail sends a refused user home
    assert not Spend.objects.exists()


def test_each_running_ab_test_shows_its_variants_as_chart_table_and_csv(admin):
    from leadmill.capture.demo import demo_seed
    from leadmill.capture.experiments import experiment_start
    from leadmill.capture.models import Experiment, Exposure, Variant
    from leadmill.capture.pages import LandingPage

    # Given a running test of the e-book page: A shown to 200 visitors (21 converted), B to
    # 200 (31 converted); and a draft test, not shown
    demo_seed()
    page = LandingPage.objects.get(slug="ebook", locale__language_code="en")
    test = Experiment.objects.create(name="Headline", page=page)
    draft = Experiment.objects.create(name="Draft idea", page=page)
    for experiment in (test, draft):
        Variant.objects.create(experiment=experiment, label="A", weight=50, sort_order=0)
        Variant.objects.create(
            experiment=experiment, label="B", weight=50, headline="New", sort_order=1
        )
    experiment_start(experiment=test)
    now = timezone.now()
    for label, converted in (("A", 21), ("B", 31)):
        variant = test.variants.get(label=label)
        Exposure.objects.bulk_create(
            Exposure(
                experiment=test,
                variant=variant,
                visitor_key=f"{label}-{n:08d}",
                exposed_at=now,
                converted_at=now if n < converted else None,
            )
            for n in range(200)
        )

    # When the marketer opens the dashboard and downloads the test's table
    html = admin.get(reverse("analytics_dashboard")).content.decode()
    rows = csv_rows(admin.get(reverse("analytics_dashboard"), {"export": f"experiment_{test.pk}"}))

    # Then the running test has its chart and table, the draft has none
    assert f'data-section="experiment_{test.pk}"' in html
    assert f'data-section="experiment_{draft.pk}"' not in html
    assert "A/B test “Headline” on “" in html and "Conversion rate per variant" in html
    assert rows[0] == [
        "Variant",
        "Visitors",
        "Conversions",
        "Conversion rate",
        "Probability to be best",
        "Risk (points)",
    ]
    assert [row[:4] for row in rows[1:]] == [
        ["A", "200", "21", "0.105"],
        ["B", "200", "31", "0.155"],
    ]
    # P(B > A) of Beta(32, 170) against Beta(22, 180): uniform prior (core/tests/test_stats.py)
    assert float(rows[2][4]) == pytest.approx(0.9300619, abs=1e-6)
    # and the risk is in percentage points, as its help says and the results screen shows
    from leadmill.capture.experiments import experiment_results

    losses = {row.label: row.expected_loss for row in experiment_results(experiment=test).variants}
    assert [float(row[5]) for row in rows[1:]] == pytest.approx(
        [100 * losses["A"], 100 * losses["B"]], abs=1e-5
    )  # the CSV keeps six significant digits
    assert losses["A"] > 0.01  # A's risk is over one point: the CSV cannot pass as a fraction


def chart_values(chart) -> list[str]:
    """The values printed on a chart's bars (pygal's ``value`` texts), top bar last."""
    return re.findall(r'<text[^>]*class="[^"]*\bvalue\b[^"]*"[^>]*>([^<]*)</text>', str(chart))


def test_the_pages_and_forms_screens_chart_one_column_of_their_tables_rows(admin):
    # Given the known funnel (one landing page, no conversion on it) and the known form
    from .known_form import known_form

    data = known_funnel()
    form = known_form()
    day = form.day.isoformat()

    # When the landing pages and forms screens are shown
    pages = admin.get(reverse("analytics_pages"), period(data)).context["sections"][0]
    fields = admin.get(
        reverse("analytics_forms"), {"slug": "signup", "since": day, "until": day}
    ).context["sections"][1]

    # Then each chart has a bar per row of its table, valued by its own column: the pages'
    # conversion rate (a percentage), the fields' leavers (a bar of 0 prints nothing)
    assert pages["table"].rows == [["/ebook/", 6, 5, 0, 0.0]]
    assert chart_values(pages["chart"]) == ["0.0 %"]
    assert fields["table"].rows == [
        ["Email", 4, 1, 0.25],
        ["First name", 2, 1, 0.0],
        ["Phone", 0, 0, 0.0],
    ]
    assert chart_values(fields["chart"]) == ["1", "1"]
