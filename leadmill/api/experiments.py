"""Analytics endpoints of experiments: an A/B test's results, a sequence's performance and
uplift, and a broadcast's performance, with the same numbers as their screens
(docs/analytics.md)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from leadmill.analytics.nurture_report import DEFAULT_WINDOW_DAYS, sequence_report
from leadmill.capture.experiments import experiment_results
from leadmill.capture.models import Experiment
from leadmill.core.text import MAX_INT
from leadmill.nurture import selectors as nurture_selectors
from leadmill.nurture.performance import broadcast_performance

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
    complained, MQL / SQL / customer within ``window_days``, and ``captured``: the leads
    credited to its emails' links, as for a broadcast) and its uplift over the
    held-out leads (rates, absolute and relative uplift with 95 % intervals, cost per SQL
    of both groups when spend is known; money as decimal text, ``null`` when unknown)."""
    sequence = nurture_selectors.sequence_get(sequence_id=sequence_id)
    report = sequence_report(sequence=sequence, window_days=window_days)
    whole, *steps = report.performance

    def row(performance):
        return {
            "enrolled": performance.enrolled,
            **vars(performance.emails),
            "conversions": performance.conversions,
            "captured": _captured(performance.captured),
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


def _captured(captured):
    return {
        "leads": captured.leads,
        "new_leads": captured.new_leads,
        "conversions": captured.conversions,
    }


class ConversionsOut(Schema):
    mql: int = Field(description="Leads sent it who reached MQL or a later stage in the window.")
    sql: int = Field(description="… reached SQL or a later stage.")
    customer: int = Field(description="… became customers.")


class CapturedOut(Schema):
    """The leads credited to the broadcast (docs/analytics.md, "Leads captured through the
    links"): an accepted form within window_days after a person's click on one of its links,
    from the browser that clicked or by the lead it was sent to; the last click wins."""

    leads: int = Field(description="Leads credited to it (unique).")
    new_leads: int = Field(description="Credited leads created after the click.")
    conversions: ConversionsOut = Field(
        description="Credited leads who reached each stage within window_days after the form."
    )


class BroadcastOut(Schema):
    """A broadcast's performance, by the definitions of docs/analytics.md ("Nurture")."""

    id: int
    name: str
    status: str = Field(description="draft, scheduled, sending or sent.")
    window_days: int
    recipients: int = Field(description="Leads it was queued for.")
    sent: int = Field(description="Marketing emails handed to the mail server.")
    delivered: int = Field(description="Sent and not bounced.")
    bounced: int
    opened: int = Field(description="Leads who opened (unique, mail scanners excluded).")
    clicked: int = Field(description="Leads who clicked (unique, mail scanners excluded).")
    unsubscribed: int = Field(description="Leads who unsubscribed through it (unique).")
    complained: int = Field(description="Leads who reported it as spam (unique).")
    conversions: ConversionsOut = Field(
        description="Leads sent it who reached each stage within window_days after the send."
    )
    captured: CapturedOut


@experiments.get(
    "/broadcasts/{int:broadcast_id}",
    response={200: BroadcastOut, **errors.documented(*errors.AUTH, 404, *errors.PARAMS)},
    auth=ApiKeyAuth("analytics:read"),
)
def broadcast_get(
    request,
    broadcast_id: int = Path(..., ge=1, le=MAX_INT),
    window_days: int = Query(DEFAULT_WINDOW_DAYS, ge=1, le=MAX_WINDOW_DAYS),
):
    """A broadcast's performance, the numbers of the Broadcast performance screen: the
    leads it was queued for, its emails sent, delivered and bounced, the leads who opened,
    clicked (unique, mail scanners excluded), unsubscribed and complained, those sent it who
    reached MQL / SQL / customer within ``window_days`` after the send, and the leads
    captured through its links (``captured``)."""
    broadcast = nurture_selectors.broadcast_get(broadcast_id=broadcast_id)
    row = broadcast_performance(broadcast_id=broadcast.pk, window_days=window_days)
    return {
        "id": broadcast.pk,
        "name": broadcast.name,
        "status": broadcast.status,
        "window_days": window_days,
        "recipients": row.enrolled,
        **vars(row.emails),
        "conversions": row.conversions,
        "captured": _captured(row.captured),
    }
