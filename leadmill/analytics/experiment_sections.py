"""The dashboard's A/B test sections: each running test's variants as a chart of their
conversion rates beside the table of the results screen's numbers (docs/analytics.md,
"A/B tests"), downloadable as CSV like every other table of the dashboard."""

from __future__ import annotations

from django.utils.translation import gettext as _

from leadmill.capture.experiments import experiment_results
from leadmill.capture.models import Experiment

from . import charts
from .tables import Column, Table

MAX_TESTS = 5


def running_experiment_sections() -> list[dict]:
    """One section per running A/B test (the latest started first, at most ``MAX_TESTS``)."""
    running = (
        Experiment.objects.filter(status=Experiment.Status.RUNNING)
        .select_related("page")
        .order_by("-started_at", "-pk")[:MAX_TESTS]
    )
    return [_section(experiment) for experiment in running]


def _section(experiment: Experiment) -> dict:
    results = experiment_results(experiment=experiment)
    columns = [
        Column("variant", _("Variant")),
        Column(
            "exposures",
            _("Visitors"),
            "int",
            _("People (not bots) shown this variant, each counted once."),
        ),
        Column(
            "conversions",
            _("Conversions"),
            "int",
            _(
                "Visitors of this variant who then sent the page’s form (accepted submissions), "
                "each counted once."
            ),
        ),
        Column("rate", _("Conversion rate"), "rate"),
        Column(
            "probability_best",
            _("Probability to be best"),
            "rate",
            _(
                "Bayesian probability that this variant has the highest conversion rate "
                "(Beta-Binomial, uniform prior)."
            ),
        ),
        Column(
            "risk_points",
            _("Risk (points)"),
            "points",
            _(
                "Expected loss: the conversion rate given up on average by choosing this "
                "variant if it is not the best, in percentage points."
            ),
        ),
    ]
    title = _("A/B test “%(name)s” on “%(page)s”") % {
        "name": experiment.name,
        "page": experiment.page.title,
    }
    table = Table(id=f"experiment_{experiment.pk}", title=title, columns=columns)
    for row in results.variants:
        table.rows.append(
            [
                row.label,
                row.exposures,
                row.conversions,
                row.rate,
                row.probability_best,
                row.risk_points,
            ]
        )
    chart = charts.horizontal_bars_chart(
        title=_("Conversion rate per variant"),
        bars=[(row.label, row.rate) for row in results.variants],
        formatter=charts.percent,
    )
    help_text = results.verdict
    if results.srm:
        help_text = _(
            "Sample ratio mismatch: the visitors are not split as configured; do not trust "
            "these figures until it is fixed."
        ) + (" " + help_text if help_text else "")
    return {"id": table.id, "table": table, "chart": chart, "help": help_text}
