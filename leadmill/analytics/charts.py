"""Charts of the analytics screens: SVG drawn on the server by pygal (ADR 36).

No script and no CDN (``js=[]``); values printed on the bars, so a chart reads without
colour or hover; labels and numbers formatted by Django in the reader's language. Each
chart is shown beside a table of the same numbers (the text alternative).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence

import pygal
from django.utils import formats
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from pygal.style import Style

_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)

# Neighbouring colours differ in lightness as well as hue (readable in grey, and by the
# common colour-vision deficiencies); the printed values carry the numbers anyway.
PALETTE = (
    "#1d4ed8",
    "#f59e0b",
    "#047857",
    "#f472b6",
    "#374151",
    "#93c5fd",
    "#b45309",
    "#a7f3d0",
    "#7c3aed",
    "#d1d5db",
)

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1f2937",
    foreground_strong="#111827",
    foreground_subtle="#6b7280",
    colors=PALETTE,
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    # Drawn 560 wide and scaled to the screen (viewBox): 16 px text is about 10 px on a
    # 390 px phone and 19 px at the widest the screens show a chart (42rem).
    label_font_size=16,
    major_label_font_size=16,
    value_font_size=16,
    value_label_font_size=16,
    legend_font_size=16,
    title_font_size=18,
    no_data_font_size=18,  # pygal's default (64) fills the chart with its text
    tooltip_font_size=16,
)
WIDTH = 560


def number(value) -> str:
    return formats.number_format(value, use_l10n=True, force_grouping=True)


def count(value) -> str:
    """A count; a fractional credit (an attribution model's, ADR 60) with one decimal."""
    if isinstance(value, float):
        return formats.number_format(value, 1, use_l10n=True, force_grouping=True)
    return number(value)


def percent(rate: float | None) -> str:
    return "—" if rate is None else formats.number_format(rate * 100, 1, use_l10n=True) + " %"


def money(value) -> str:
    return (
        "—"
        if value is None
        else formats.number_format(value, 2, use_l10n=True, force_grouping=True)
    )


def whole_number_ticks(highest: int, *, ticks: int = 5) -> list[int]:
    """Axis labels for counts: whole numbers from 0 past ``highest`` (pygal would print 2.2)."""
    step = max(1, math.ceil(highest / ticks))
    return list(range(0, max(highest, 1) + step, step))


def nice_ticks(highest: float, *, ticks: int = 5) -> list[float]:
    """Axis labels from 0 past ``highest`` in steps of 1, 2 or 5 times a power of ten, about
    ``ticks`` of them (pygal's own crowd a narrow chart)."""
    if highest <= 0:
        return [0, 1]
    rough = highest / ticks
    power = 10 ** math.floor(math.log10(rough))
    step = next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= rough)
    count = math.ceil(highest / step)
    return [round(step * n, 10) for n in range(count + 1)]


def _config(chart_class, *, title: str, height: int = 360, **options):
    options.setdefault("print_values", True)
    return chart_class(
        style=STYLE,
        js=[],
        disable_xml_declaration=True,
        title=title,
        width=WIDTH,
        height=height,
        print_zeroes=False,
        legend_at_bottom=True,
        legend_at_bottom_columns=3,  # about 20 characters each at a phone's width
        truncate_legend=20,
        truncate_label=30,
        margin=12,
        margin_bottom=28,  # room for the legend's text below the axis labels
        # Every value empty (a rate with no visitor): said plainly, the table says "—".
        no_data_text=_("No value to chart in this period"),
        **options,
    )


def _svg(chart, *, label: str) -> SafeString:
    """The chart as inline SVG, named for assistive technology by ``label``."""
    # pygal writes its config in an inline script even with ``js=[]``: nothing runs it.
    svg = _SCRIPT.sub("", chart.render(is_unicode=True))
    return mark_safe(  # noqa: S308 - pygal escapes what we give it; the label is escaped here
        svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    )


def stacked_days_chart(
    *,
    title: str,
    days: Sequence[dt.date],
    series: dict[str, list[int]],
) -> SafeString:
    """A stacked bar per day, one colour per series (e.g. leads per day by channel)."""
    highest = max((sum(day) for day in zip(*series.values(), strict=True)), default=0)
    chart = _config(
        pygal.StackedBar,
        title=title,
        x_label_rotation=0,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(days) // 5),
        value_formatter=lambda value: number(value) if value else "",
        print_values=len(days) <= 14,
    )
    chart.x_labels = [formats.date_format(day, "SHORT_DATE_FORMAT") for day in days]
    if series:  # pygal cannot place labels on an empty chart (it says "No data")
        chart.y_labels = whole_number_ticks(highest)
    for name, values in series.items():
        chart.add(name, values)
    return _svg(chart, label=title)


def horizontal_bars_chart(
    *,
    title: str,
    bars: Sequence[tuple[str, float | None]],
    formatter: Callable = number,
    series_name: str = "",
) -> SafeString:
    """One horizontal bar per label, its value printed on it (top bar first)."""
    bars = list(bars)
    chart = _config(
        pygal.HorizontalBar,
        title=title,
        height=max(160, 70 + 42 * len(bars)),
        show_legend=False,
        value_formatter=lambda value: formatter(value) if value is not None else "—",
    )
    chart.x_labels = [label for label, _value in reversed(bars)]
    highest = max((float(value or 0) for _label, value in bars), default=0)
    if bars:  # counts (a credit's tenths too) on whole-number ticks, never 0.2 of a lead
        chart.y_labels = (
            whole_number_ticks(math.ceil(highest))
            if formatter in (number, count)
            else nice_ticks(highest)
        )
    chart.add(series_name or title, [value for _label, value in reversed(bars)])
    return _svg(chart, label=title)


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: dict[str, list[float | None]],
    secondary: dict[str, list[float | None]] | None = None,
) -> SafeString:
    """Lines over the same labels; ``secondary`` series on a right-hand axis of their own."""
    chart = _config(
        pygal.Line,
        title=title,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(labels) // 5),
        value_formatter=lambda value: number(value) if value is not None else "—",
        print_values=len(labels) <= 12,
    )
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, values)
    for name, values in (secondary or {}).items():
        chart.add(name, values, secondary=True)
    return _svg(chart, label=title)
