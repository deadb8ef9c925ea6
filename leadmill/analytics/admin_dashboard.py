"""Back-office screens of analytics: the dashboard, quality by source, landing pages and
forms. Wired in ``wagtail_hooks.py``; every number defined in docs/analytics.md.

Each screen reads its period and filters from the query string (so a view can be
bookmarked or shared), shows charts beside tables of the same numbers, and exports any
table as CSV with ``?export=<table id>`` and the same query.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.conf import settings
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.permissions import ModelPermissionPolicy

from leadmill.capture.models import Form
from leadmill.contacts.models import Contact
from leadmill.core.admin_viewsets import TitledAdminViewMixin
from leadmill.tracking.models import Channel

from . import charts, selectors, tail
from .credits import FIRST_TOUCH, MODEL_DEFINITIONS, MODEL_LABELS, TOUCH_GROUPS
from .definitions import DEFINITIONS as D
from .experiment_sections import running_experiment_sections
from .models import DailyCount, Metric, Spend
from .quality import QUALITY_GROUPS, quality
from .tables import Column, Table, csv_response, table_and_bars

DASHBOARD_URL_NAME = "analytics_dashboard"
QUALITY_URL_NAME = "analytics_quality"
PAGES_URL_NAME = "analytics_pages"
FORMS_URL_NAME = "analytics_forms"
SPEND_URL_NAME = "analytics_spend"
DEFAULT_DAYS = 30
MAX_DAYS = 3660
FILTER_NAMES = ("channel", "source", "campaign", "landing_page", "form")


def dimension_values(column: str) -> list[str]:
    """The values a filter offers: those in the counts, in spend, and of the leads not yet
    counted (the raw tail), sorted."""
    values = set(DailyCount.objects.values_list(column, flat=True).distinct())
    if column in ("channel", "source", "campaign"):
        values.update(Spend.objects.values_list(column, flat=True).distinct())
        boundary = selectors.filled_until()
        if boundary:
            tail = timezone.make_aware(dt.datetime.combine(boundary, dt.time()))
            values.update(
                Contact.objects.filter(created_at__gte=tail)
                .values_list(f"first_{column}", flat=True)
                .distinct()
            )
    return sorted(value for value in values if value)


class PeriodForm(forms.Form):
    """The period, reading and filters every analytics screen takes from its query string."""

    since = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    compare = forms.BooleanField(
        label=gettext_lazy("Compare with the previous period"), required=False
    )
    reading = forms.ChoiceField(
        label=gettext_lazy("Reading"),
        required=False,
        choices=[("cohort", gettext_lazy("Cohort")), ("activity", gettext_lazy("Activity"))],
    )
    attribution = forms.ChoiceField(
        label=gettext_lazy("Attribution model"),
        required=False,
        choices=list(MODEL_LABELS.items()),
        help_text=gettext_lazy(
            "Which touches get the credit of a lead, in the breakdowns by channel, source, "
            "medium and campaign."
        ),
    )
    window_days = forms.IntegerField(
        label=gettext_lazy("Conversion window (days)"),
        required=False,
        min_value=0,
        max_value=MAX_DAYS,
    )
    reference = forms.DecimalField(
        label=gettext_lazy("Reference visitor-to-lead rate (%)"),
        required=False,
        min_value=0,
        max_value=100,
        decimal_places=2,
    )
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), required=False)
    source = forms.ChoiceField(label=gettext_lazy("Source"), required=False)
    campaign = forms.ChoiceField(label=gettext_lazy("Campaign"), required=False)
    landing_page = forms.ChoiceField(label=gettext_lazy("Landing page"), required=False)
    form = forms.ChoiceField(label=gettext_lazy("Form"), required=False)

    def __init__(self, data=None, **kwargs):
        # Always bound, with the defaults filled in, so the fields show the period in use.
        data = data.copy() if data is not None else QueryDict(mutable=True)
        today = timezone.localdate()
        defaults = {
            "until": today.isoformat(),
            "since": (today - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
            "reading": "cohort",
            "attribution": FIRST_TOUCH,
            "reference": str(settings.LEADMILL_REFERENCE_VISITOR_TO_LEAD_RATE),
        }
        for name, value in defaults.items():
            if not data.get(name):
                data[name] = value
        super().__init__(data, **kwargs)
        every = [("", _("All"))]
        labels = dict(Channel.choices)
        self.fields["channel"].choices = every + [
            (value, str(labels.get(value, value))) for value in dimension_values("channel")
        ]
        for name in ("source", "campaign", "landing_page"):
            self.fields[name].choices = every + [(value, value) for value in dimension_values(name)]
        self.fields["form"].choices = every + [
            (str(pk), name) for pk, name in Form.objects.order_by("name").values_list("pk", "name")
        ]

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        until = min(data.get("until") or today, today)
        since = data.get("since") or until - dt.timedelta(days=DEFAULT_DAYS - 1)
        if since > until:
            self.add_error("since", _("The start must be on or before the end."))
        elif (until - since).days > MAX_DAYS:
            self.add_error("since", _("A period may span at most ten years."))
        data["since"], data["until"] = since, until
        data["reading"] = data.get("reading") or "cohort"
        data["attribution"] = data.get("attribution") or FIRST_TOUCH
        if data.get("reference") is None:
            data["reference"] = Decimal(str(settings.LEADMILL_REFERENCE_VISITOR_TO_LEAD_RATE))
        return data

    def period(self) -> dict:
        """The cleaned period and filters; the defaults when the query string is invalid."""
        data = self.cleaned_data if self.is_valid() else PeriodForm().cleaned_data_or_defaults()
        filters = {name: data.get(name) or "" for name in FILTER_NAMES}
        if filters["form"]:
            filters["form"] = int(filters["form"])
        return {**data, "filters": {k: v for k, v in filters.items() if v != ""}}

    def cleaned_data_or_defaults(self) -> dict:
        self.is_valid()
        return self.cleaned_data


# What a report may be broken down by, as the "Break down by" select names it.
GROUP_LABELS = {
    "channel": gettext_lazy("Channel"),
    "source": gettext_lazy("Source"),
    "medium": gettext_lazy("Medium"),
    "campaign": gettext_lazy("Campaign"),
    "landing_page": gettext_lazy("Landing page"),
    "form": gettext_lazy("Form"),
    "offer": gettext_lazy("Offer"),
    "country": gettext_lazy("Country"),
    "cta": gettext_lazy("Call to action"),
    "segment": gettext_lazy("Segment (members now)"),
}


def attribution_help(model: str, group_by: str) -> str:
    """The attribution model a breakdown was read with and its definition; none for a
    breakdown no model changes (by landing page, form, CTA...)."""
    if group_by not in TOUCH_GROUPS:
        return ""
    return _("Attribution: %(model)s. %(definition)s") % {
        "model": MODEL_LABELS[model],
        "definition": MODEL_DEFINITIONS[model],
    }


def group_label(group_by: str, label: str) -> str:
    """A group's name as a person reads it: channels by their name, "(none)" for no value."""
    if not label:
        return _("(none)")
    if group_by == "channel":
        return str(dict(Channel.choices).get(label, label))
    return label


def previous_period(since: dt.date, until: dt.date) -> tuple[dt.date, dt.date]:
    length = (until - since).days + 1
    return since - dt.timedelta(days=length), since - dt.timedelta(days=1)


class AnalyticsView(
    PermissionCheckedMixin, TitledAdminViewMixin, WagtailAdminTemplateMixin, TemplateView
):
    """Base of the analytics screens: the period form, sections of charts and tables, and
    the CSV export of any table (``?export=<id>``)."""

    permission_policy = ModelPermissionPolicy(DailyCount)
    permission_required = "view"
    template_name = "analytics/admin/report.html"
    header_icon = "table"
    intro = ""
    show_reading = False
    # Whether the screen adds today's raw tail to the counts (kept a minute, ADR 61): it
    # then says as of when today's numbers are.
    uses_tail = True
    period_fields = (
        "since",
        "until",
        "compare",
        "reading",
        "attribution",
        "window_days",
        "reference",
        *FILTER_NAMES,
    )

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        # The moments of the kept readings the sections used (ADR 69); none on a POST.
        self.readings_as_of: dict = {}

    def get(self, request, *args, **kwargs):
        self.form = PeriodForm(request.GET)
        self.period = self.form.period()
        with tail.readings_as_of() as self.readings_as_of:
            self.sections = self.build_sections()
        export = request.GET.get("export")
        if export:
            for section in self.sections:
                table = section.get("table")
                if table is not None and table.id == export:
                    stamp = f"{self.period['since']:%Y%m%d}-{self.period['until']:%Y%m%d}"
                    return csv_response(table, filename=f"leadmill-{table.id}-{stamp}.csv")
        return super().get(request, *args, **kwargs)

    def build_sections(self) -> list[dict]:
        raise NotImplementedError

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop("export", None)
        context.update(
            form=self.form,
            period=self.period,
            sections=self.sections,
            intro=self.intro,
            reading_help=D[self.period["reading"]],
            show_reading=self.show_reading,
            query=query.urlencode(),
            shown_fields=[self.form[name] for name in self.period_fields],
            currency=settings.LEADMILL_REPORTING_CURRENCY,
            today_counted_at=self.today_counted_at(),
            members_counted_at=self.readings_as_of.get("segments"),
            scores_counted_at=self.readings_as_of.get("quality"),
            tail_seconds=settings.LEADMILL_ANALYTICS_TAIL_SECONDS,
        )
        return context

    def today_counted_at(self):
        """When today's numbers on this screen were counted, if they were kept (ADR 61)."""
        today = timezone.localdate()
        if not self.uses_tail or not self.period["since"] <= today <= self.period["until"]:
            return None
        return tail.counted_at(today, self.tail_parts())

    def tail_parts(self) -> tuple[str, ...]:
        """The parts of the kept tail this screen reads (:mod:`.tail`)."""
        return tail.PARTS


STAGES = (
    ("visitors", gettext_lazy("Visitors")),
    ("leads", gettext_lazy("Leads")),
    ("mqls", gettext_lazy("MQLs")),
    ("sqls", gettext_lazy("SQLs")),
    ("customers", gettext_lazy("Customers")),
)
STEP_RATES = {
    "leads": "visitor_to_lead_rate",
    "mqls": "lead_to_mql_rate",
    "sqls": "mql_to_sql_rate",
    "customers": "sql_to_customer_rate",
}
STEP_DAYS = {"mqls": "lead_to_mql", "sqls": "mql_to_sql", "customers": "sql_to_customer"}


def _change(now, before) -> float | None:
    if before in (None, 0) or now is None:
        return None
    return float((Decimal(now) - Decimal(before)) / Decimal(before))


class DashboardView(AnalyticsView):
    """Leads per day by channel, the funnel and its rates, the visitor-to-lead rate beside
    the reference, cost per lead by source, and the variants of each running A/B test."""

    page_title = gettext_lazy("Analytics")
    show_reading = True
    group_by = ""
    intro = gettext_lazy(
        "Leads per day, the funnel and what each source costs. Every number is defined beside "
        "it; download any table as CSV."
    )

    def build_sections(self) -> list[dict]:
        p = self.period
        since, until, filters = p["since"], p["until"], p["filters"]
        funnel_args = {
            "reading": p["reading"],
            "attribution": p["attribution"],
            "window_days": p.get("window_days"),
            "filters": filters,
        }
        report = selectors.funnel(since=since, until=until, **funnel_args)
        group_by = self.request.GET.get("group_by", "")
        self.group_by = group_by if group_by in selectors.GROUPS else ""
        previous = None
        if p.get("compare"):
            before_since, before_until = previous_period(since, until)
            previous = selectors.funnel(since=before_since, until=before_until, **funnel_args)
        return [
            self._cards(report, previous),
            self._leads_per_day(since, until, filters),
            self._funnel(report, previous),
            *([self._breakdown(since, until, funnel_args)] if self.group_by else []),
            self._rate(report, previous),
            self._cost(since, until, funnel_args),
            *running_experiment_sections(),
        ]

    def _cards(self, report, previous) -> dict:
        total = report["total"]
        cards = []
        for key, label in STAGES:
            card = {"key": key, "label": label, "value": charts.number(total[key]), "help": D[key]}
            if previous is not None:
                card["change"] = charts.percent(_change(total[key], previous["total"][key]))
                card["before"] = charts.number(previous["total"][key])
            cards.append(card)
        return {"id": "summary", "cards": cards}

    def _leads_per_day(self, since, until, filters) -> dict:
        days = selectors.daily(
            metric=Metric.LEADS, since=since, until=until, group_by="channel", filters=filters
        )
        labels = dict(Channel.choices)
        channels = sorted({channel for groups in days.values() for channel in groups}, key=str)
        names = [str(labels.get(channel) or _("Unknown")) for channel in channels]
        columns = [Column("day", _("Day"), "date")]
        columns += [Column(f"channel_{c}", n, "int") for c, n in zip(channels, names, strict=True)]
        columns.append(Column("leads", _("Leads"), "int", D["leads"]))
        table = Table(
            id="leads_per_day",
            title=_("Leads per day by channel"),
            columns=columns,
            caption=_("Leads per day, one column per first-touch channel."),
        )
        for day, groups in days.items():
            table.rows.append([day, *[groups.get(c, 0) for c in channels], sum(groups.values())])
        table.total = [
            _("Total"),
            *[sum(groups.get(c, 0) for groups in days.values()) for c in channels],
            sum(sum(groups.values()) for groups in days.values()),
        ]
        chart = charts.stacked_days_chart(
            title=table.title,
            days=list(days),
            series={
                name: [days[day].get(channel, 0) for day in days]
                for channel, name in zip(channels, names, strict=True)
            },
        )
        return {"id": table.id, "table": table, "chart": chart}

    def _funnel(self, report, previous) -> dict:
        total = report["total"]
        columns = [
            Column("stage", _("Stage")),
            Column("count", _("Number"), "int"),
            Column("step_rate", _("Rate from the stage before"), "rate", D["step_rate"]),
            Column("median_days", _("Median days from the stage before"), "days", D["median_days"]),
        ]
        if previous is not None:
            columns += [
                Column("previous", _("Previous period"), "int", D["comparison"]),
                Column("change", _("Change"), "rate"),
            ]
        # Each step's bar says its rate from the stage before: "Leads (80.0 %)".
        bar_labels = {
            str(label): f"{label} ({charts.percent(total[STEP_RATES[key]])})"
            if key in STEP_RATES
            else str(label)
            for key, label in STAGES
        }
        rows = []
        for key, label in STAGES:
            row = {
                "stage": str(label),
                "count": total[key],
                "step_rate": total.get(STEP_RATES.get(key, "")),
                "median_days": total.get(f"median_days_{STEP_DAYS[key]}")
                if key in STEP_DAYS
                else None,
            }
            if previous is not None:
                before = previous["total"][key]
                row.update(previous=before, change=_change(total[key], before))
            rows.append(row)
        table, chart = table_and_bars(
            Table(id="funnel", title=_("Funnel"), columns=columns, caption=D[report["reading"]]),
            rows,
            bars_title=_("Funnel"),
            bar="count",
            label=lambda row: bar_labels[row[0]],
        )
        return {"id": table.id, "table": table, "chart": chart}

    def _breakdown(self, since, until, funnel_args) -> dict:
        """The funnel per value of the chosen group: a CTA, a segment, a source..."""
        report = selectors.funnel(since=since, until=until, group_by=self.group_by, **funnel_args)
        by_segment = self.group_by == "segment"
        columns = [
            Column("label", str(GROUP_LABELS[self.group_by])),
            Column("visitors", _("Visitors"), "int", D["visitors"]),
            Column("leads", _("Leads"), "int", D["leads"]),
            Column("mqls", _("MQLs"), "int", D["mqls"]),
            Column("sqls", _("SQLs"), "int", D["sqls"]),
            Column("customers", _("Customers"), "int", D["customers"]),
            Column("visitor_to_lead_rate", _("Visitor to lead"), "rate", D["visitor_to_lead_rate"]),
            Column("lead_to_mql_rate", _("Lead to MQL"), "rate", D["step_rate"]),
            Column("mql_to_sql_rate", _("MQL to SQL"), "rate"),
            Column("sql_to_customer_rate", _("SQL to customer"), "rate"),
            Column("median_days_lead_to_mql", _("Median days to MQL"), "days", D["median_days"]),
        ]
        table, chart = table_and_bars(
            Table(
                id="funnel_by_group",
                title=_("Funnel by %(group)s")
                % {"group": str(GROUP_LABELS[self.group_by]).lower()},
                columns=columns,
                caption=D[f"{self.group_by}_breakdown"]
                if self.group_by in ("cta", "segment")
                else "",
            ),
            [{**row, "label": group_label(self.group_by, row["label"])} for row in report["rows"]],
            bars_title=_("Leads by %(group)s")
            % {"group": str(GROUP_LABELS[self.group_by]).lower()},
            bar="leads",
            most=15,
            formatter=charts.count,
        )
        table.total = [_("All leads (not the sum of the rows)") if by_segment else _("Total")] + [
            report["total"][column.key] for column in columns[1:]
        ]
        return {
            "id": table.id,
            "table": table,
            "chart": chart,
            "help": attribution_help(report["attribution"], self.group_by),
            "empty": _("No lead in the period."),
        }

    def _rate(self, report, previous) -> dict:
        reference = float(self.period["reference"]) / 100
        rate = report["total"]["visitor_to_lead_rate"]
        columns = [
            Column("what", ""),
            Column("rate", _("Visitor-to-lead rate"), "rate", D["visitor_to_lead_rate"]),
        ]
        rows = [{"what": _("This period"), "rate": rate}]
        if previous is not None:
            rows.append(
                {"what": _("Previous period"), "rate": previous["total"]["visitor_to_lead_rate"]}
            )
        rows.append({"what": _("Reference"), "rate": reference})
        table, chart = table_and_bars(
            Table(id="visitor_to_lead", title=_("Visitor-to-lead rate"), columns=columns),
            rows,
            bars_title=_("Visitor-to-lead rate beside the reference"),
            bar="rate",
            formatter=charts.percent,
        )
        return {"id": table.id, "table": table, "chart": chart, "help": D["reference_rate"]}

    def _cost(self, since, until, funnel_args) -> dict:
        report = selectors.funnel(since=since, until=until, group_by="source", **funnel_args)
        currency = settings.LEADMILL_REPORTING_CURRENCY
        money = f" ({currency})"
        columns = [
            Column("source", _("Source")),
            Column("spend", _("Spend") + money, "money", D["spend"]),
            Column("leads", _("Leads"), "int", D["leads"]),
            Column("cost_per_lead", _("Cost per lead") + money, "money", D["cost_per_lead"]),
            Column("mqls", _("MQLs"), "int"),
            Column("cost_per_mql", _("Cost per MQL") + money, "money"),
            Column("sqls", _("SQLs"), "int"),
            Column("cost_per_sql", _("Cost per SQL") + money, "money"),
            Column("customers", _("Customers"), "int"),
            Column("cost_per_customer", _("Cost per customer") + money, "money"),
            Column("revenue", _("Revenue") + money, "money", D["revenue"]),
            Column("return_on_spend", _("Return on spend"), "rate"),
        ]
        table, chart = table_and_bars(
            Table(id="cost_by_source", title=_("Cost per lead by source"), columns=columns),
            [{**row, "source": row["label"] or _("(none)")} for row in report["rows"]],
            bars_title=_("Cost per lead by source") + money,
            bar="cost_per_lead",
            formatter=charts.money,
            charted=lambda row: row[3] is not None and bool(row[1]),  # a cost, from spend
        )
        total = report["total"]
        if total["spend"] is not None:
            table.total = [_("Total")] + [total[column.key] for column in columns[1:]]
        return {
            "id": table.id,
            "table": table,
            "chart": chart,
            "help": attribution_help(report["attribution"], "source"),
            "empty": _("No spend recorded for the period: upload it under Analytics › Spend."),
        }

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["group_choices"] = [("", _("No breakdown"))] + [
            (key, str(GROUP_LABELS[key])) for key in selectors.GROUPS
        ]
        context["group_by"] = self.group_by
        return context


class QualityView(AnalyticsView):
    """Quality by source: leads, shares to MQL / SQL / customer, scores, revenue, days."""

    page_title = gettext_lazy("Quality by source")
    intro = gettext_lazy(
        "Of the leads created in the period, how many became MQL, SQL and customer, how well "
        "they score, what they brought and how long they took."
    )
    period_fields = ("since", "until", "window_days", "attribution", *FILTER_NAMES)

    def build_sections(self) -> list[dict]:
        group_by = self.request.GET.get("group_by")
        self.group_by = group_by if group_by in QUALITY_GROUPS else "source"
        p = self.period
        report = quality(
            since=p["since"],
            until=p["until"],
            group_by=self.group_by,
            window_days=p.get("window_days"),
            filters=p["filters"],
            attribution=p["attribution"],
        )
        money = f" ({settings.LEADMILL_REPORTING_CURRENCY})"
        columns = [
            Column("label", str(GROUP_LABELS[self.group_by])),
            Column("leads", _("Leads"), "int", D["leads"]),
            Column("mql_share", _("Became MQL"), "rate", D["quality_share"]),
            Column("sql_share", _("Became SQL"), "rate"),
            Column("customer_share", _("Became customer"), "rate"),
            Column("average_fit_score", _("Average fit"), "days", D["average_score"]),
            Column("average_engagement_score", _("Average engagement"), "days"),
            Column("average_predictive_score", _("Average predictive"), "rate"),
            Column("revenue", _("Revenue") + money, "money", D["revenue"]),
            Column("median_days_to_sql", _("Median days to SQL"), "days", D["days_to_stage"]),
            Column("median_days_to_customer", _("Median days to customer"), "days"),
        ]
        table, chart = table_and_bars(
            Table(id="quality", title=str(self.page_title), columns=columns),
            [{**row, "label": group_label(self.group_by, row["label"])} for row in report["rows"]],
            bars_title=_("Share of leads that became SQL"),
            bar="sql_share",
            formatter=charts.percent,
        )
        table.total = [_("Total")] + [report["total"][column.key] for column in columns[1:]]
        return [
            {
                "id": table.id,
                "table": table,
                "chart": chart,
                "help": attribution_help(report["attribution"], self.group_by),
                "empty": _("No lead in the period."),
            }
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["group_choices"] = [(key, str(GROUP_LABELS[key])) for key in QUALITY_GROUPS]
        context["group_by"] = self.group_by
        return context
