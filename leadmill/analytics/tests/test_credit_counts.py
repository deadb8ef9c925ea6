"""The credits of the attribution models stored by the fill (ADR 65): every model's served
numbers equal the raw computation from the journeys (ADR 60), after a clean fill, a fill
killed and run again, a late touch and an identification, with today's raw tail."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from leadmill.scoring.models import ContactScore, ScoringSettings
from leadmill.tracking.services import visitor_identify

from .. import credits, selectors, services
from ..models import SHARED_MODELS, CreditCount, FillState, JourneyChange, LeadShare
from ..quality import quality
from .known_funnel import at, page_view
from .test_attribution import journeys, touch  # noqa: F401 -- the known journeys

pytestmark = pytest.mark.django_db

TOUCH_GROUPS = ("channel", "source", "medium", "campaign")
V7 = "v7a1b2c3d4e5f6a7b8c9d0"  # a browser id as the tracker sets it


class Killed(Exception):
    pass


def same(served, raw, path="report") -> None:
    """Served equals raw: the same keys and values, credits to 1e-9 (floats summed in
    another order)."""
    if isinstance(raw, dict):
        assert set(served) == set(raw), path
        for key in raw:
            same(served[key], raw[key], f"{path}.{key}")
    elif isinstance(raw, list):
        assert len(served) == len(raw), path
        for index, (left, right) in enumerate(zip(served, raw, strict=True)):
            same(left, right, f"{path}[{index}]")
    elif isinstance(raw, float) or (isinstance(raw, Decimal) and isinstance(served, Decimal)):
        assert float(served) == pytest.approx(float(raw), abs=1e-9), path
    else:
        assert served == raw, path


def every_report(data) -> dict:
    """Every model's funnel by each touch column, both readings, with and without a window,
    and quality by source: from the first lead's day to today (the raw tail's day)."""
    since, until = data.d1, timezone.localdate()
    reports = {}
    for model in SHARED_MODELS:
        for group in TOUCH_GROUPS:
            for reading, window in (("cohort", None), ("cohort", 30), ("activity", None)):
                reports[(model, group, reading, window)] = selectors.funnel(
                    since=since,
                    until=until,
                    group_by=group,
                    attribution=model,
                    reading=reading,
                    window_days=window,
                )
        reports[(model, "quality")] = quality(
            since=since, until=until, group_by="source", attribution=model
        )
        reports[(model, "filtered")] = selectors.funnel(
            since=since,
            until=until,
            group_by="source",
            attribution=model,
            filters={"channel": "paid_search", "country": "PT"},
        )
    return reports


def served_equals_raw(data) -> None:
    """The served credits equal those computed from the journeys, per model, group, metric
    and lag (the raw reading of ADR 60)."""
    since, until = data.d1, timezone.localdate()
    for model in SHARED_MODELS:
        for group in TOUCH_GROUPS:
            options = {"since": since, "until": until, "group_by": group, "model": model}
            served = summed(selectors.served_credited_rows(**options, filters={}))
            raw = summed(credits.credited_rows(**options, filters={})[0])
            same(served, raw, f"{model}/{group}")


def summed(rows) -> dict:
    found: dict = {}
    for metric, group, lag, credit, amount in rows:
        row = found.setdefault((metric, group, lag), [0.0, 0.0])
        row[0] += credit
        row[1] += float(amount)
    return found


@pytest.fixture
def scored(journeys):  # noqa: F811
    """c1 and c2 have scores (c2 no predictive one): quality's averages are weighted."""
    now = timezone.now()
    c1, c2 = journeys.contacts["c1"], journeys.contacts["c2"]
    ContactScore.objects.create(
        contact=c1,
        fit_score=40,
        engagement_score=10.0,
        engagement_at=now,
        predictive_probability=0.25,
        updated_at=now,
    )
    ContactScore.objects.create(
        contact=c2, fit_score=10, engagement_score=4.0, engagement_at=now, updated_at=now
    )
    return journeys


@pytest.mark.parametrize("journeys", ["raw tail"], indirect=True)
def test_every_models_stored_credits_equal_the_raw_computation(scored):
    # Given every report computed from the raw journeys (no fill yet)
    raw = every_report(scored)
    assert CreditCount.objects.count() == 0

    # When the fill stores the credits (yesterday's days; today stays the raw tail)
    services.counts_fill()

    # Then each report served from them is the raw one, and so is each group's credit
    assert CreditCount.objects.filter(model="linear").exists()
    same(every_report(scored), raw)
    served_equals_raw(scored)
    linear = quality(since=scored.d1, until=scored.d2, group_by="source", attribution="linear")
    google = {row["value"]: row for row in linear["rows"]}["google"]
    # c1 (a third, fit 40) and c2 (a half, fit 10): (40/3 + 10/2) / (1/3 + 1/2)
    assert google["average_fit_score"] == round((40 / 3 + 5) / (5 / 6), 2)
    assert google["average_predictive_score"] == round(0.25, 4)


@pytest.mark.parametrize("journeys", ["raw tail"], indirect=True)
def test_each_lead_has_its_shares_stored_once_per_model_and_touch(journeys):  # noqa: F811
    services.counts_fill()

    c1 = journeys.contacts["c1"]
    shares = {
        row["source"]: row
        for row in LeadShare.objects.filter(contact_id=c1.pk).values("source", *SHARED_MODELS)
    }
    # google 08:00, facebook 08:30, the newsletter 08:45 (a bot's view is no touch)
    assert set(shares) == {"google", "facebook", "newsletter"}
    assert shares["newsletter"]["last_touch"] == 1.0
    assert shares["google"]["last_touch"] == 0.0  # a key of the journey, no credit
    assert shares["facebook"]["linear"] == pytest.approx(1 / 3, abs=1e-15)
    assert shares["google"]["u_shaped"] == pytest.approx(0.4, abs=1e-15)
    assert sum(row["time_decay"] for row in shares.values()) == pytest.approx(1, abs=1e-15)
    # c3 has no tracked touch: its stored first touch, whole
    c3 = journeys.contacts["c3"]
    assert list(
        LeadShare.objects.filter(contact_id=c3.pk).values_list("source", *SHARED_MODELS)
    ) == [("bing", 1.0, 1.0, 1.0, 1.0)]
    assert LeadShare.objects.count() == 3 + 2 + 1 + 1


@pytest.mark.parametrize("journeys", ["raw tail"], indirect=True)
def test_a_fill_killed_and_run_again_stores_a_clean_runs_credits(scored):
    raw = every_report(scored)

    def kill_on_second_day(day):
        if day == scored.d2:
            raise Killed

    with pytest.raises(Killed):
        services.counts_fill(inside_day=kill_on_second_day)
    services.counts_fill()

    same(every_report(scored), raw)
    served_equals_raw(scored)
    interrupted = stored_rows()
    services.counts_refill()
    assert stored_rows() == interrupted


def stored_rows():
    credits_rows = sorted(
        CreditCount.objects.values_list(
            "day", "model", "metric", "channel", "source", "medium", "campaign",
            "lag_days", "credit", "amount",
        )
    )  # fmt: skip
    shares = sorted(
        LeadShare.objects.values_list("contact_id", "source", "created_at", *SHARED_MODELS)
    )
    return credits_rows, shares


@pytest.mark.parametrize("journeys", ["raw tail"], indirect=True)
def test_a_late_touch_before_a_lead_came_in_corrects_its_credits(journeys):  # noqa: F811
    services.counts_fill()
    c3 = journeys.contacts["c3"]  # came in on D2 at 08:00 with no tracked touch (bing)

    # When a touch of 07:00 that day arrives late
    touch(c3, at(journeys.d2, 7), "paid_search", "google")
    report = services.counts_fill()

    # Then its days are counted again with its new journey: the touch takes its credit
    assert report.days_corrected >= 1
    served_equals_raw(journeys)
    rows = {
        row["value"]: row
        for row in selectors.funnel(
            since=journeys.d1, until=journeys.d2, group_by="source", attribution="linear"
        )["rows"]
    }
    assert rows["google"]["leads"] == pytest.approx(5 / 6 + 1, abs=1e-12)
    assert rows["bing"]["leads"] == pytest.approx(1 / 2, abs=1e-12)
    assert list(
        LeadShare.objects.filter(contact_id=c3.pk).values_list("source", *SHARED_MODELS)
    ) == [("google", 1.0, 1.0, 1.0, 1.0)]


@pytest.mark.parametrize("journeys", ["raw tail"], indirect=True)
def test_a_touch_after_a_lead_came_in_recounts_nothing(journeys):  # noqa: F811
    services.counts_fill()

    touch(journeys.contacts["c3"], at(journeys.d2, 9), "paid_search", "google")
    report = services.counts_fill()

    assert report.days_corrected == 0
    served_equals_raw(journeys)


@pytest.mark.parametrize("journeys", ["raw tail"], indirect=True)
def test_an_identification_that_attaches_earlier_visits_corrects_the_credits(
    journeys,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    # Given a browser's anonymous visit at 14:00 on D1, counted by the fill
    page_view(V7, at(journeys.d1, 14), "bing", "organic_search")
    services.counts_fill()
    c4 = journeys.contacts["c4"]  # came in at 15:00 after a facebook view at 12:00

    # When the browser is identified as c4 (its visit joins c4's journey; no new event)
    with django_capture_on_commit_callbacks(execute=True):
        visitor_identify(visitor_id=V7, contact_id=c4.pk)
    assert list(JourneyChange.objects.values_list("contact_id", flat=True)) == [c4.pk]
    services.counts_fill()

    # Then c4's credit is shared with the bing visit, as the raw journeys say
    served_equals_raw(journeys)
    linear = dict(LeadShare.objects.filter(contact_id=c4.pk).values_list("source", "linear"))
    assert linear == {"facebook": 0.5, "bing": 0.5}
    assert not JourneyChange.objects.exists()  # taken by the fill


@pytest.mark.parametrize("journeys", ["raw tail"], indirect=True)
def test_the_days_not_filled_yet_come_from_the_journeys(journeys):  # noqa: F811
    raw = every_report(journeys)

    # When the fill has counted D1 only: D2 and later are the raw tail
    services.counts_fill(until=journeys.d2)

    assert set(CreditCount.objects.values_list("day", flat=True)) == {journeys.d1}
    same(every_report(journeys), raw)
    served_equals_raw(journeys)


def linear_quality(data) -> dict:
    return quality(since=data.d1, until=data.d2, group_by="source", attribution="linear")


def raw_linear_quality(data) -> dict:
    """Quality under the linear model from the raw journeys and scores (no fill state:
    nothing kept), the fill state put back after."""
    state = FillState.objects.get()
    FillState.objects.filter(pk=state.pk).update(filled_until=None)
    try:
        return linear_quality(data)
    finally:
        FillState.objects.filter(pk=state.pk).update(filled_until=state.filled_until)


def google_of(report) -> dict:
    return {row["value"]: row for row in report["rows"]}["google"]


@pytest.mark.parametrize("journeys", ["rollup"], indirect=True)
def test_quality_under_a_model_keeps_its_score_sums_as_of_their_moment(scored):
    # Given quality by source under the linear model read once from the stored shares
    kept = linear_quality(scored)
    same(kept, raw_linear_quality(scored))

    # When c1's fit score changes within the minute
    ContactScore.objects.filter(contact=scored.contacts["c1"]).update(fit_score=100)

    # Then the report still answers the scores of the moment it summed them
    same(linear_quality(scored), kept)
    # c1 (a third) and c2 (a half, fit 10): (100/3 + 10/2) / (1/3 + 1/2)
    assert google_of(raw_linear_quality(scored))["average_fit_score"] == round(
        (100 / 3 + 5) / (5 / 6), 2
    )

    # and once the kept sums expire, the scores now again: the raw reading
    cache.clear()
    same(linear_quality(scored), raw_linear_quality(scored))


@pytest.mark.parametrize("journeys", ["rollup"], indirect=True)
def test_kept_quality_decays_the_engagement_to_the_moment_it_is_read(scored, monkeypatch):
    # Given quality under the linear model summed now (engagement 10 for c1, 4 for c2)
    half_life = ScoringSettings.load().half_life_days
    first = linear_quality(scored)

    # When it is read again one half-life later, still kept (no score was written)
    later = timezone.now() + dt.timedelta(days=half_life)
    monkeypatch.setattr(timezone, "now", lambda: later)
    again = linear_quality(scored)

    # Then every engagement has decayed by half, as the raw reading of that moment says
    same(again, raw_linear_quality(scored))
    assert google_of(again)["average_engagement_score"] == pytest.approx(
        google_of(first)["average_engagement_score"] / 2, abs=0.01
    )
    assert google_of(again)["average_fit_score"] == google_of(first)["average_fit_score"]
