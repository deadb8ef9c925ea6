"""Background entry points of scoring: thin, idempotent."""

import logging

from huey.contrib.djhuey import db_task

from leadmill.core.errors import ValidationFailed

from .services import predictive_model_train

logger = logging.getLogger(__name__)


@db_task()
def predictive_model_train_task() -> None:
    """Train and activate the predictive model; too few outcomes yet is logged, not retried."""
    try:
        predictive_model_train()
    except ValidationFailed as exc:
        logger.info("predictive model not trained: %s", exc.message)
