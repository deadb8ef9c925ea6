"""Background entry points of scoring: thin, idempotent."""

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from leadmill.core.errors import ValidationFailed
from leadmill.core.locks import ExpiringLock

from .predictions import predictive_scores_fill
from .qualification import scores_requalify
from .recompute import scores_recompute_all
from .training import predictive_model_retrain, predictive_model_train

logger = logging.getLogger(__name__)


@db_task()
def predictive_model_train_task() -> None:
    """Train and activate the predictive model, then store every lead's probability; too
    few outcomes yet is logged, not retried."""
    try:
        predictive_model_train()
    except ValidationFailed as exc:
        logger.info("predictive model not trained: %s", exc.message)
        return
    predictive_scores_fill()


@db_periodic_task(crontab(day_of_week="0", hour="3", minute="17"))
@ExpiringLock("scoring.retrain", seconds=6 * 3600)
def predictive_model_retrain_task() -> None:
    """Every Sunday at 03:17: retrain when ``LEADMILL_SCORING_RETRAIN_MIN_OUTCOMES`` new
    outcomes arrived, keep the active model if the new one is worse, refresh probabilities."""
    try:
        result = predictive_model_retrain(
            min_new_outcomes=settings.LEADMILL_SCORING_RETRAIN_MIN_OUTCOMES
        )
    except ValidationFailed as exc:
        logger.info("predictive model not retrained: %s", exc.message)
        return
    if result is not None and result.kept is None:
        predictive_scores_fill()


@db_periodic_task(crontab(minute="41"))
@ExpiringLock("scoring.requalify", seconds=3600)
def scores_requalify_task() -> None:
    """Every hour: temperature and stage follow the scores as they decay (in batches)."""
    scores_requalify()


@db_task()
def scores_recompute_task() -> None:
    """Recompute every lead's scores from the rules (after rules or settings changed),
    then bring temperature and stage in line. Not locked: a run queued by a later edit
    must not be dropped, and two runs write the same rows in turn."""
    scores_recompute_all()
    scores_requalify()
