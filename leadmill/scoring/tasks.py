"""Background entry points of scoring: thin, idempotent."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from leadmill.core.errors import ValidationFailed

from .services import predictive_model_train, scores_recompute_all, scores_requalify

logger = logging.getLogger(__name__)


@db_task()
def predictive_model_train_task() -> None:
    """Train and activate the predictive model; too few outcomes yet is logged, not retried."""
    try:
        predictive_model_train()
    except ValidationFailed as exc:
        logger.info("predictive model not trained: %s", exc.message)


@db_periodic_task(crontab(minute="41"))
@lock_task("scoring-requalify")
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
