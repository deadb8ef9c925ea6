"""Quality by source: the score averages of each group's leads, summed by the database."""

import datetime as dt

import pytest
from django.utils import timezone

from leadmill.scoring.models import ContactScore, ScoringSettings

from ..quality import quality
from .known_funnel import known_funnel


def score(contact, *, fit, engagement, half_lives=0.0, predictive=None):
    """A stored score whose engagement was ``engagement`` ``half_lives`` half-lives ago."""
    half_life = ScoringSettings.load().half_life_days
    now = timezone.now()
    ContactScore.objects.create(
        contact=contact,
        fit_score=fit,
        engagement_score=engagement,
        engagement_at=now - dt.timedelta(days=half_life * half_lives),
        predictive_probability=predictive,
        updated_at=now,
    )


@pytest.fixture
def scored():
    # Given the known funnel's leads with scores: c1 and c2 (google), c3 (bing), c4 unscored
    data = known_funnel()
    c = data.contacts
    score(c["c1"], fit=40, engagement=10.0, half_lives=2, predictive=0.5)  # 2.5 now
    score(c["c2"], fit=21, engagement=8.0)
    score(c["c3"], fit=7, engagement=4.0, half_lives=1, predictive=0.25)  # 2.0 now
    return data


def averages(row):
    return (
        row["average_fit_score"],
        row["average_engagement_score"],
        row["average_predictive_score"],
    )


@pytest.mark.django_db
def test_averages_by_source_are_those_of_the_groups_scored_leads(scored):
    report = quality(since=scored.d1, until=scored.d2, group_by="source")

    rows = {row["value"]: row for row in report["rows"]}
    assert averages(rows["google"]) == (30.5, 5.25, 0.5)
    assert averages(rows["bing"]) == (7.0, 2.0, 0.25)
    assert averages(rows["facebook"]) == (None, None, None)  # c4 has no score
    assert averages(report["total"]) == (22.67, 4.17, 0.375)


@pytest.mark.django_db
def test_averages_by_form_credit_each_lead_to_its_first_accepted_post(scored):
    # c2's spam post on F1 does not count: c2 is F2's
    report = quality(since=scored.d1, until=scored.d2, group_by="form")

    rows = {row["value"]: row for row in report["rows"]}
    assert averages(rows["ebook"]) == (40.0, 2.5, 0.5)
    assert averages(rows["demo"]) == (21.0, 8.0, None)


@pytest.mark.django_db
def test_a_filter_on_the_landing_page_keeps_only_its_leads(scored):
    report = quality(
        since=scored.d1,
        until=scored.d1,
        group_by="landing_page",
        filters={"source": "google", "landing_page": "/ebook/"},
    )

    assert [row["value"] for row in report["rows"]] == ["/ebook/"]
    assert averages(report["rows"][0]) == (30.5, 5.25, 0.5)
    assert report["rows"][0]["leads"] == 2
