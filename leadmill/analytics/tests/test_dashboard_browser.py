"""The analytics dashboard in headless Chromium (issue 15): a marketer opens it from the
menu, changes the period and the source filter, sees the charts and tables change, and
downloads a table as CSV whose rows are the table's. Also at a phone's width, in pt-BR."""

from __future__ import annotations

import csv
import os

import pytest

from .browser import DESKTOP, PHONE, back_office_user, expect, signed_in_page
from .known_funnel import known_funnel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("LEADMILL_SCREENSHOTS", "")


def widest_chart(page) -> float:
    """The right edge of the widest chart, in CSS pixels."""
    return page.evaluate(
        "Math.max(0, ...[...document.querySelectorAll('.lm-chart svg')]"
        ".map(svg => svg.getBoundingClientRect().right))"
    )


def room_for_the_choice(page, select_id: str) -> float:
    """The select's inner width less its chosen label's, in CSS pixels (below 0: cut)."""
    return page.evaluate(
        """id => {
            const select = document.getElementById(id);
            const style = getComputedStyle(select);
            const text = document.createElement("canvas").getContext("2d");
            text.font = style.font;
            const label = select.options[select.selectedIndex].text;
            return select.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight) - text.measureText(label).width;
        }""",
        select_id,
    )


def card(page, key):
    return page.locator(f"[data-card={key}] .lm-card__value")


def shot(page, name):
    """A screenshot of the whole screen for a person to look at (LEADMILL_SCREENSHOTS=dir):
    the back office scrolls inside its main element, so the window is made tall first."""
    if SHOTS:
        width = page.viewport_size["width"]
        page.set_viewport_size({"width": width, "height": 3600})
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"))
        page.set_viewport_size({"width": width, "height": 900})


def test_a_marketer_changes_period_and_source_and_downloads_the_funnel(
    browser, live_server, django_user_model, page_tree, tmp_path
):
    # Given a known funnel 60 days ago and an admin signed in
    data = known_funnel()
    back_office_user(django_user_model)
    page = signed_in_page(browser, live_server, DESKTOP)
    expect(page.locator("[data-analytics-home]")).to_be_visible()  # the admin's home

    # When she opens Analytics → Overview: the last 30 days hold nothing yet
    page.get_by_role("button", name="Analytics").click()
    page.get_by_role("list", name="Analytics").get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    expect(card(page, "leads")).to_have_text("0")

    # When she sets the period to the funnel's two days
    page.get_by_label("From:", exact=True).fill(data.d1.isoformat())
    page.get_by_label("To:", exact=True).fill(data.d2.isoformat())
    page.get_by_role("button", name="Show").click()

    # Then the numbers, the funnel table and the leads-per-day chart change
    expect(card(page, "visitors")).to_have_text("5")
    expect(card(page, "leads")).to_have_text("4")
    funnel = page.locator("table[data-table=funnel]")
    expect(funnel.locator("tbody tr").nth(1)).to_contain_text("80.0 %")  # leads ÷ visitors
    expect(page.locator("[data-section=leads_per_day] svg.pygal-chart")).to_contain_text(
        "Paid search"
    )
    expect(page.locator("[data-section=cost_by_source] table")).to_contain_text("linkedin")
    shot(page, "dashboard-desktop-en")

    # When she keeps only the source "google"
    page.get_by_label("Source:", exact=True).select_option("google")
    page.get_by_role("button", name="Show").click()

    # Then only google's visitors and leads remain, in the cards, tables and chart
    expect(card(page, "visitors")).to_have_text("3")
    expect(card(page, "leads")).to_have_text("2")
    expect(page.locator("[data-section=leads_per_day] svg.pygal-chart")).not_to_contain_text(
        "Paid social"
    )
    expect(page.locator("[data-section=cost_by_source] table")).not_to_contain_text("linkedin")

    # And the funnel's CSV holds the rows of the table she sees
    with page.expect_download() as download_info:
        page.locator("[data-section=funnel]").get_by_role("link", name="Download CSV").click()
    path = tmp_path / "funnel.csv"
    download_info.value.save_as(path)
    with path.open(encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0][:2] == ["Stage", "Number"]
    assert [row[:2] for row in rows[1:]] == [
        ["Visitors", "3"],
        ["Leads", "2"],
        ["MQLs", "2"],
        ["SQLs", "1"],
        ["Customers", "1"],
    ]
    assert rows[2][2] == "0.666667"


def test_the_dashboard_reads_on_a_phone_in_portuguese(
    browser, live_server, django_user_model, page_tree
):
    data = known_funnel()
    back_office_user(django_user_model, language="pt-br")
    page = signed_in_page(browser, live_server, PHONE)

    page.goto(
        f"{live_server.url}/admin/analytics/?since={data.d1.isoformat()}"
        f"&until={data.d2.isoformat()}&compare=on"
    )

    expect(page.get_by_role("heading", name="Análises", level=1)).to_be_visible()
    expect(card(page, "leads")).to_have_text("4")
    expect(page.locator("table[data-table=funnel] tbody tr").nth(1)).to_contain_text("80,0 %")
    expect(page.locator(".lm-reading")).to_contain_text("Coorte: dos leads criados no período")
    # Nothing wider than the phone: the tables scroll inside their own box, the charts are
    # drawn to its width (not scrolled: a chart's centred title was cut at the right)
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 390, overflow
    assert 0 < widest_chart(page) <= 390
    shot(page, "dashboard-phone-pt-br")


def test_the_report_screens_show_their_numbers_and_spend_uploads(
    browser, live_server, django_user_model, page_tree, tmp_path
):
    from .known_form import known_form

    data = known_funnel()
    form = known_form()
    back_office_user(django_user_model)
    page = signed_in_page(browser, live_server, DESKTOP)
    period = f"since={data.d1.isoformat()}&until={data.d2.isoformat()}"

    # Quality by source, broken down by channel
    page.goto(f"{live_server.url}/admin/analytics/quality/?{period}")
    page.get_by_label("Break down by").select_option("channel")
    page.get_by_role("button", name="Show").click()
    quality = page.locator("table[data-table=quality]")
    expect(quality.locator("tbody tr", has_text="Paid search")).to_contain_text("100.0 %")
    shot(page, "quality-desktop-en")

    # Landing pages
    page.goto(f"{live_server.url}/admin/analytics/pages/?{period}")
    expect(page.locator("table[data-table=pages] tbody tr").first).to_contain_text("/ebook/")
    shot(page, "pages-desktop-en")

    # Forms: the known form's drop-off per field
    day = form.day.isoformat()
    page.goto(f"{live_server.url}/admin/analytics/forms/?slug=signup&since={day}&until={day}")
    fields = page.locator("table[data-table=form_fields]")
    expect(fields.locator("tbody tr").first).to_contain_text("25.0 %")  # email's error rate
    shot(page, "forms-desktop-en")

    # Spend: a CSV uploaded, then a file in another currency refused with what to fix
    page.goto(f"{live_server.url}/admin/analytics/spend/?{period}")
    upload = tmp_path / "spend.csv"
    upload.write_text(
        f"date,channel,source,amount,currency\n{data.d1.isoformat()},paid_search,bing,12.50,USD\n"
    )
    page.get_by_label("Spend CSV").set_input_files(str(upload))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("1 spend row recorded.")).to_be_visible()
    expect(page.locator("table[data-table=spend]")).to_contain_text("bing")
    upload.write_text(f"date,source,amount,currency\n{data.d1.isoformat()},meta,9,EUR\n")
    page.get_by_label("Spend CSV").set_input_files(str(upload))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_contain_text("Row 1 is in EUR")
    shot(page, "spend-desktop-en")


@pytest.mark.parametrize("width", [1280, 390])
def test_a_marketer_breaks_the_funnel_down_by_cta_and_by_segment(
    browser, live_server, django_user_model, page_tree, width
):
    from leadmill.segments.models import Segment, SegmentMember

    from .known_funnel import known_cta_clicks

    # Given the known funnel with CTA clicks, a list of one lead, and an admin signed in
    data = known_funnel()
    known_cta_clicks(data)
    listed = Segment.objects.create(name="Listed", kind=Segment.Kind.STATIC)
    SegmentMember.objects.create(segment=listed, contact=data.contacts["c1"])
    back_office_user(django_user_model)
    page = signed_in_page(browser, live_server, {"width": width, "height": 900})
    page.goto(
        f"{live_server.url}/admin/analytics/?since={data.d1.isoformat()}"
        f"&until={data.d2.isoformat()}"
    )

    # When she breaks the funnel down by call to action
    page.get_by_label("Break down by").select_option(label="Call to action")
    page.get_by_role("button", name="Show").click()

    # Then each CTA is a row with its leads, under its label, and a chart of them
    table = page.locator("table[data-table=funnel_by_group]")
    expect(table.locator("tbody tr", has_text="Get the ebook")).to_contain_text("1")
    expect(table.locator("tbody tr")).to_have_count(4)
    expect(page.locator("[data-section=funnel_by_group] svg.pygal-chart")).to_contain_text(
        "Book a demo"
    )

    # When she breaks it down by segment
    page.get_by_label("Break down by").select_option(label="Segment (members now)")
    page.get_by_role("button", name="Show").click()

    # Then the select shows the whole choice (it was cut at 1280 px), the segment's row,
    # and a total said not to be the sum of the rows
    expect(table.locator("tbody tr")).to_have_count(1)
    assert room_for_the_choice(page, "id_group_by") >= 0
    expect(table.locator("tbody tr")).to_contain_text("Listed")
    expect(table.locator("tfoot")).to_contain_text("All leads (not the sum of the rows)")

    # When she breaks it down by source under the linear attribution model
    page.get_by_label("Break down by").select_option(label="Source")
    page.get_by_label("Attribution model").select_option(label="Linear")
    page.get_by_role("button", name="Show").click()

    # Then the leads are credits, shown with one decimal, and the model is defined above
    expect(table.locator("tbody tr", has_text="google")).to_contain_text("2.0")
    expect(page.locator("[data-section=funnel_by_group]")).to_contain_text(
        "Attribution: Linear. A lead's credit is shared equally by every touch"
    )
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, overflow
    assert 0 < widest_chart(page) <= width
    shot(page, f"dashboard-by-source-linear-{width}")
