"""The server-side charts (pygal, inline SVG): what a chart with nothing to draw says."""

import re

import pytest
from django.utils import translation

from leadmill.analytics import charts

pytestmark = pytest.mark.django_db  # the suite's autouse fixtures reach the database


def test_a_chart_whose_values_are_all_empty_says_so_in_a_line_in_the_readers_language():
    # Given a page with no visitor in the period: its conversion rate has no value
    bars = [("/ebook/", None)]

    # When its chart is drawn in English and in Portuguese
    english = str(charts.horizontal_bars_chart(title="Conversion rate per page", bars=bars))
    with translation.override("pt-br"):
        portuguese = str(charts.horizontal_bars_chart(title="Taxa", bars=bars))

    # Then it says so, in the chart's text size, not pygal's giant "No data"
    assert "No value to chart in this period" in english
    assert "Nenhum valor para o gráfico neste período" in portuguese
    assert "No data" not in english
    assert re.search(r"text\.no_data\{[^}]*font-size:18px", english)


def test_a_chart_with_values_draws_them():
    chart = str(charts.horizontal_bars_chart(title="Leads", bars=[("Ads", 3), ("Email", 5)]))

    assert "No value to chart" not in chart
    assert ">3<" in chart and ">5<" in chart


def test_a_chart_scales_to_the_screen_by_its_view_box():
    chart = str(charts.stacked_days_chart(title="Leads", days=[], series={}))

    svg = chart[: chart.index(">")]
    assert f'viewBox="0 0 {charts.WIDTH} ' in svg
    assert " width=" not in svg and " height=" not in svg  # the page's CSS sizes it


@pytest.mark.parametrize("language", ["en", "pt-br"])
@pytest.mark.parametrize("formatter", [charts.number, charts.count])
def test_a_bar_chart_of_counts_labels_its_axis_with_whole_numbers(language, formatter):
    # Given counts whose largest is 1 (a new form's single lead)
    bars = [("Ads", 1), ("Email", 0)]

    # When they are drawn, as the funnel by group draws its leads
    with translation.override(language):
        chart = str(charts.horizontal_bars_chart(title="Leads", bars=bars, formatter=formatter))

    # Then the axis reads 0 and 1, never 0.2 (0,2 in Portuguese) of a lead
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", chart)
    assert not [label for label in labels if re.fullmatch(r"\d+[.,]\d+", label)], labels
    assert "0" in labels and "1" in labels
