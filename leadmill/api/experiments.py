"""Analytics endpoints of experiments: an A/B test's results and a sequence's performance
and uplift, with the same numbers as their screens (docs/analytics.md)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from leadmill.analytics.nurture_report import DEFAULT_WINDOW_DAYS, sequence_report
from leadmill.capture.experiments import experiment_results
from leadmill.capture.models import Experiment
from leadmill.core.text import MAX_INT
from leadmill.nurture.models import Sequence

from . import errors
from .auth import ApiKeyAuth

experiments = Router(tags=["analytics"])

MAX_WINDOW_DAYS = 3660


def _date(value):
    return value.isoformat() if value is not None else None


def _money(value):
    return str(value) if value is not None else None


@experiments.get(
    "/experiments/{int:experiment_id}",
    response={200: dict, **errors.documented(*errors.AUTH, 404, *errors.PARAMS)},
    auth=ApiKeyAuth("analytics:read"),
)
def experiment_get(request, experiment_id: int = Path(..., ge=1, le=MAX_INT)):
    """An A/B test of a landing page: per variant its share, exposures (visitors shown it,
    bots excluded), conversions (those who then sent the page's form), rate, probability to
    be best and expected loss (Beta-Binomial, uniform prior); the sample-ratio check
    (``srm``: chi-square p < 0.001 against the split); and the stop rule's decision with
    its sentence (``verdict``)."""
    experiment = (
        Experiment.objects.select_related("page", "winner").filter(pk=experiment_id).first()
    )
    if experiment is None:
        return Status(404, {"code": "not_found", "message": _("No A/B test with this id.")})
    results = experiment_results(experiment=experiment)
    return {
        "id": experiment.pk,
        "name": experiment.name,
        "page_id": experiment.page_id,
        "status": experiment.status,
        "started_at": _date(experiment.started_at),
        "ended_at": _date(experiment.ended_at),
        "days_running": round(results.days_running, 4),
        "winner_variant_id": experiment.winner_id,
        "variants": [
            {
                "id": row.variant_id,
                "label": row.label,
                "weight": row.weight,
                "exposures": row.exposures,
                "conversions": row.conversions,
                "rate": row.rate,
                "probability_best": row.probability_best,
                "expected_loss": row.expected_loss,
            }
            for row in results.variants
        ],
        "srm": {"p_value": results.srm_p_value, "mismatch": results.srm},
        "stop_rule": {
            "min_days": experiment.min_days,
            "min_exposures": experiment.min_exposures,
            "risk_threshold": float(experiment.risk_threshold_percent) / 100,
            "may_stop": results.may_stop,
            "leader_variant_id": results.leader_id,
            "verdict": results.verdict,
        },
    }


def _arm(arm):
    return {"leads": arm.exposures, "converted": arm.conversions, "rate": arm.rate}


@experiments.get(
    "/sequences/{int:sequence_id}",
    response={200: dict, **errors.documented(*errors.AUTH, 404, *errors.PARAMS)},
    auth=ApiKeyAuth("analytics:read"),
)
def sequence_get(
    request,
    sequence_id: int = Path(..., ge=1, le=MAX_INT),
    window_days: int = Query(DEFAULT_WINDOW_DAYS, ge=1, le=MAX_WINDOW_DAYS),
):
    """A sequence's performance (the whole sequence, then each email step: enrolled, sent,
    delivered, bounced, unique opens and clicks without mail scanners, unsubscribed,
    complained, MQL / SQL / customer within ``window_days``) and its uplift over the
    held-out leads (rates, absolute and relative uplift with 95 % intervals, cost per SQL
    of both groups when spend is known; money as decimal text, ``null`` when unknown)."""
    sequence = Sequence.objects.filter(pk=sequence_id).first()
    if sequence is None:
        return Status(404, {"code": "not_found", "message": _("No sequence with this id.")})
    report = sequence_report(sequence=sequence, window_days=window_days)
    whole, *steps = report.performance

    def row(performance):
        return {
            "enrolled": performance.enrolled,
            **vars(performance.emails),
            "conversions": performance.conversions,
        }

    return {
        "id": sequence.pk,
        "name": sequence.name,
        "window_days": report.window_days,
        "held_out": report.held_out_count,
        "performance": row(whole),
        "steps": [{"step_id": s.key, "label": s.label, **row(s)} for s in steps],
        "uplift": [
            {
                "stage": u.stage,
                "nurtured": _arm(u.nurtured),
                "held_out": _arm(u.held_out),
                "absolute": u.uplift.absolute,
                "absolute_low": u.uplift.absolute_low,
                "absolute_high": u.uplift.absolute_high,
                "relative": u.uplift.relative,
                "relative_low": u.uplift.relative_low,
                "relative_high": u.uplift.relative_high,
            }
            for u in report.uplift
        ],
        "cost": {
            "enrolled_since": _date(report.enrolled_since),
            "enrolled_until": _date(report.enrolled_until),
            "cost_per_lead": _money(report.cost_per_lead),
            "nurtured_cost_per_sql": _money(report.nurtured_cost.cost_per_sql),
            "held_out_cost_per_sql": _money(report.held_out_cost.cost_per_sql),
        },
    }
