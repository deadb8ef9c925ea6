"""Back-office screens of analytics beside the dashboard: landing pages, forms and spend.
Wired in ``wagtail_hooks.py``; their base and period form live in ``admin_dashboard.py``.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from wagtail.permissions import ModelPermissionPolicy

from leadmill.capture.models import Form

from . import charts
from .admin_dashboard import AnalyticsView, PeriodForm
from .definitions import DEFINITIONS as D
from .form_report import form_report
from .landing_pages import page_report
from .models import Spend
from .services import SpendError, spend_record, spend_rows_from_csv
from .tables import Column, Table, table_and_bars

MAX_SPEND_UPLOAD_BYTES = 5 * 1024 * 1024


class PagesView(AnalyticsView):
    """Views, unique visitors, conversions and rate per landing page; pages live per week
    beside leads per week."""

    page_title = gettext_lazy("Landing pages")
    intro = gettext_lazy(
        "How many people each landing page reaches and converts, and how the number of live "
        "pages moves with the leads per week."
    )
    period_fields = ("since", "until", "landing_page")

    def build_sections(self) -> list[dict]:
        p = self.period
        report = page_report(
            since=p["since"], until=p["until"], page=p["filters"].get("landing_page", "")
        )
        approximate = report["unique_visitors_approximate"]
        columns = [
            Column("page", _("Page")),
            Column("views", _("Views"), "int", D["page_views"]),
            _estimable(
                "unique_visitors",
                "int",
                D["unique_visitors"],
                exact=_("Unique visitors"),
                estimate=_("≈ Unique visitors"),
                approximate=approximate,
            ),
            Column("conversions", _("Conversions"), "int", D["page_conversions"]),
            _estimable(
                "conversion_rate",
                "rate",
                D["page_rate"],
                exact=_("Conversion rate"),
                estimate=_("≈ Conversion rate"),
                approximate=approximate,
            ),
        ]
        pages, pages_chart = table_and_bars(
            Table(
                id="pages",
                title=_("Landing pages"),
                columns=columns,
                caption=D["unique_visitors_approximate"] if approximate else "",
            ),
            report["rows"],
            bars_title=_("≈ Conversion rate per page")
            if approximate
            else _("Conversion rate per page"),
            bar="conversion_rate",
            most=15,
            formatter=charts.percent,
        )
        weeks = Table(
            id="pages_live_by_week",
            title=_("Pages live and leads per week"),
            columns=[
                Column("week", _("Week starting"), "date"),
                Column("pages_live", _("Landing pages live"), "int", D["pages_live"]),
                Column("leads", _("Leads"), "int", D["leads"]),
            ],
        )
        for week in report["weeks"]:
            weeks.rows.append([week["week"], week["pages_live"], week["leads"]])
        weeks_chart = charts.line_chart(
            title=weeks.title,
            labels=[charts.formats.date_format(row[0], "SHORT_DATE_FORMAT") for row in weeks.rows],
            series={str(_("Leads")): [row[2] for row in weeks.rows]},
            secondary={str(_("Landing pages live")): [row[1] for row in weeks.rows]},
        )
        return [
            {
                "id": "pages",
                "table": pages,
                "chart": pages_chart,
                "empty": _("No page view in the period."),
            },
            {"id": "weeks", "table": weeks, "chart": weeks_chart},
        ]


def _estimable(
    key: str, kind: str, help_text: str, *, exact: str, estimate: str, approximate: bool
) -> Column:
    """A column whose numbers may be an estimate: labelled ``estimate`` ("≈ …") and shown
    with "≈" when ``approximate`` (ADR 56), else labelled ``exact``."""
    return Column(key, estimate if approximate else exact, kind, help_text, approximate=approximate)


class FormsView(AnalyticsView):
    """One form's views, starts, submissions, completion and time; per field: reached,
    left there, error rate."""

    page_title = gettext_lazy("Forms")
    uses_tail = True  # the stored days and today's tail (ADR 64)
    intro = gettext_lazy(
        "How many people see, start and send a form, and what each field costs: where they "
        "stop and which fields refuse their input."
    )
    period_fields = ("since", "until")

    chosen = None

    def tail_parts(self) -> tuple[str, ...]:
        return (f"form-{self.chosen.pk}",) if self.chosen else ()

    def build_sections(self) -> list[dict]:
        self.forms = list(Form.objects.order_by("name"))
        slug = self.request.GET.get("slug")
        self.chosen = next((form for form in self.forms if form.slug == slug), None)
        if self.chosen is None and self.forms:
            self.chosen = self.forms[0]
        if self.chosen is None:
            return []
        p = self.period
        report = form_report(form=self.chosen, since=p["since"], until=p["until"])
        summary = Table(
            id="form_summary",
            title=self.chosen.name,
            columns=[
                Column("what", ""),
                Column("value", _("Number"), "text"),
            ],
        )
        summary.rows = [
            [_("Views"), charts.number(report["views"])],
            [_("Starts"), charts.number(report["starts"])],
            [_("Submissions"), charts.number(report["submissions"])],
            [_("Completion rate"), charts.percent(report["completion_rate"])],
            [
                _("Median time to complete (seconds)"),
                "—"
                if report["median_seconds_to_complete"] is None
                else charts.number(round(report["median_seconds_to_complete"])),
            ],
        ]
        summary_help = " ".join(
            str(D[key])
            for key in (
                "form_views",
                "form_starts",
                "form_submissions",
                "completion_rate",
                "time_to_complete",
            )
        )
        columns = [
            Column("label", _("Field")),
            Column("reached", _("Reached"), "int", D["field_reached"]),
            Column("left_here", _("Left the form here"), "int", D["field_left"]),
            Column("error_rate", _("Validation error rate"), "rate", D["field_error_rate"]),
        ]
        fields, chart = table_and_bars(
            Table(id="form_fields", title=_("Drop-off per field"), columns=columns),
            report["fields"],
            bars_title=_("People who left the form at each field"),
            bar="left_here",
        )
        return [
            {"id": "form_summary", "table": summary, "help": summary_help},
            {"id": "form_fields", "table": fields, "chart": chart},
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["form_choices"] = [(form.slug, form.name) for form in self.forms]
        context["chosen_form"] = self.chosen.slug if self.chosen else ""
        return context


class SpendUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Spend CSV"),
        help_text=gettext_lazy(
            "Columns: date (YYYY-MM-DD), amount, currency and any of channel, source, medium, "
            "campaign. A day and source already recorded gets the new amount."
        ),
    )


class SpendView(AnalyticsView):
    """Ad spend: upload a CSV (the same import as ``leadmill import spend``) and see what
    was recorded for the period."""

    page_title = gettext_lazy("Spend")
    intro = gettext_lazy(
        "Ad spend per day and channel, source, medium and campaign, in the reporting currency."
    )
    period_fields = ("since", "until", "channel", "source", "campaign")
    uses_tail = False
    template_name = "analytics/admin/spend.html"

    def build_sections(self) -> list[dict]:
        p = self.period
        query = Spend.objects.filter(day__gte=p["since"], day__lte=p["until"]).filter(
            **{k: v for k, v in p["filters"].items() if k in ("channel", "source", "campaign")}
        )
        money = f" ({settings.LEADMILL_REPORTING_CURRENCY})"
        columns = [
            Column("day", _("Day"), "date"),
            Column("channel", _("Channel")),
            Column("source", _("Source")),
            Column("medium", _("Medium")),
            Column("campaign", _("Campaign")),
            Column("amount", _("Amount") + money, "money", D["spend"]),
        ]
        table = Table(id="spend", title=_("Spend recorded"), columns=columns)
        for row in query.order_by("day", "channel", "source", "medium", "campaign").values_list(
            "day", "channel", "source", "medium", "campaign", "amount"
        ):
            table.rows.append(list(row))
        return [{"id": "spend", "table": table, "empty": _("No spend recorded for the period.")}]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["upload_form"] = kwargs.get("upload_form") or SpendUploadForm()
        context["may_upload"] = _may_upload(self.request.user)
        context["currency"] = settings.LEADMILL_REPORTING_CURRENCY
        return context

    def post(self, request, *args, **kwargs):
        if not _may_upload(request.user):
            raise PermissionDenied
        upload = SpendUploadForm(request.POST, request.FILES)
        if upload.is_valid():
            file = upload.cleaned_data["file"]
            try:
                if file.size > MAX_SPEND_UPLOAD_BYTES:
                    raise SpendError(_("The file is larger than 5 MB: split it."))
                try:
                    text = file.read().decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise SpendError(
                        _("The file is not UTF-8 text: save it as CSV UTF-8.")
                    ) from None
                stored = spend_record(rows=spend_rows_from_csv(text))
            except SpendError as error:
                upload.add_error("file", error.message)
            else:
                messages.success(
                    request,
                    ngettext(
                        "%(count)d spend row recorded.", "%(count)d spend rows recorded.", stored
                    )
                    % {"count": stored},
                )
                return redirect(request.get_full_path())  # the same period and filters
        self.form = PeriodForm(request.GET)
        self.period = self.form.period()
        self.sections = self.build_sections()
        return self.render_to_response(self.get_context_data(upload_form=upload))


def _may_upload(user) -> bool:
    return ModelPermissionPolicy(Spend).user_has_permission(user, "add")
