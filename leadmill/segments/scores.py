"""Scores as SQL expressions over :class:`~leadmill.scoring.models.ContactScore`, for segment
conditions.

The engagement score decays without writes (``stored * 0.5 ** (age / half-life)``, see
:func:`leadmill.scoring.selectors.engagement_now`), so a segment compares the decayed value
at the time it is evaluated, computed in SQL with the scoring app's own date arithmetic.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import F, FloatField, Func

from leadmill.scoring.models import ScoringSettings
from leadmill.scoring.rules import decay_sql, reference_param


class EngagementNow(Func):
    """``engagement_score`` decayed from ``engagement_at`` to ``at``."""

    output_field = FloatField()

    def __init__(self, *, at: dt.datetime, half_life_days: float):
        super().__init__(F("engagement_score"), F("engagement_at"))
        self.at, self.half_life_days = at, float(half_life_days)

    def as_sql(self, compiler, connection, **extra_context):
        score_sql, score_params = compiler.compile(self.source_expressions[0])
        at_sql, at_params = compiler.compile(self.source_expressions[1])
        sql = decay_sql(
            score_sql, at_sql, self.half_life_days
        )  # its first placeholder after the score's is the reference time
        return sql, [*score_params, reference_param(self.at), *at_params]


def score_expression(field: str, *, at: dt.datetime) -> Any:
    """The value a ``score.*`` condition compares, on a ContactScore row."""
    if field == "score.fit":
        return F("fit_score")
    if field == "score.predictive":
        return F("predictive_probability")
    engagement = EngagementNow(at=at, half_life_days=ScoringSettings.load().half_life_days)
    if field == "score.engagement":
        return engagement
    return F("fit_score") + engagement
