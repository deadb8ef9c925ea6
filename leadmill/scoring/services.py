"""Writes of the scoring app, gathered in one place for callers (tasks, handlers, other apps
and the command): import them from here.

Each concept lives in its own module:

* :mod:`.recompute` — fit and engagement of every lead at once (set-based);
* :mod:`.scores` — fit and engagement of one lead, new tracking events, points given by a
  person or an automation;
* :mod:`.qualification` — temperature and stage from the scores, as they decay;
* :mod:`.predictions` — the stored predictive probability, for one lead or all in batches;
* :mod:`.training` — training, activating and retraining the predictive model;
* :mod:`.outcomes` — importing past leads with their outcome.
"""

from .outcomes import IMPORT_BATCH_SIZE, OutcomesImport, outcomes_import
from .predictions import predictive_scores_fill, predictive_store
from .qualification import Qualification, contact_qualify, qualification, scores_requalify
from .recompute import ENGAGEMENT_EPSILON, scores_recompute_all
from .scores import contact_score_refresh, score_apply_event, score_events_apply, score_points_add
from .training import TrainingResult, predictive_model_retrain, predictive_model_train

__all__ = [
    "ENGAGEMENT_EPSILON",
    "IMPORT_BATCH_SIZE",
    "OutcomesImport",
    "Qualification",
    "TrainingResult",
    "contact_qualify",
    "contact_score_refresh",
    "outcomes_import",
    "predictive_model_retrain",
    "predictive_model_train",
    "predictive_scores_fill",
    "predictive_store",
    "qualification",
    "score_apply_event",
    "score_events_apply",
    "score_points_add",
    "scores_recompute_all",
    "scores_requalify",
]
