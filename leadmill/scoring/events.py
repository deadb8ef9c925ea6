"""Events the scoring app publishes on the domain event bus."""

import datetime as dt

from leadmill.contacts.events import TemperatureChanged
from leadmill.core.events import event

# TemperatureChanged moved to contacts (every path that changes a temperature publishes it);
# importing it from here still works.
__all__ = ["ScoreChanged", "ScoresRecomputed", "TemperatureChanged"]


@event
class ScoreChanged:
    """A lead's fit or engagement score changed (engagement as of ``occurred_at``).

    Published by the per-lead paths (a new event, a form, an edit); a bulk recompute
    publishes one :class:`ScoresRecomputed` instead of one event per lead.
    """

    contact_id: int
    fit_score: int
    engagement_score: float
    occurred_at: dt.datetime


@event
class ScoresRecomputed:
    """Every lead's scores were recomputed from the rules; ``changed`` rows were written."""

    changed: int
    occurred_at: dt.datetime
