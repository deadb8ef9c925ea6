"""The scheduled retrain: only when enough new outcomes arrived, never for a worse model."""

import pytest

from .. import selectors
from ..models import ScoringModel
from ..tasks import predictive_model_retrain_task
from ..training import predictive_model_retrain, predictive_model_train
from .generators import segment_decides
from .test_services import contacts_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_loaded_models():
    selectors._loaded.clear()
    yield
    selectors._loaded.clear()


def more_outcomes(n: int) -> None:
    contacts_make(*segment_decides(n=n, seed=2), prefix="later")


def active_auc_set(value: float) -> ScoringModel:
    active = ScoringModel.objects.get(is_active=True)
    active.metrics = {**active.metrics, "auc": value}
    active.save(update_fields=["metrics"])
    return active


def test_no_retrain_until_enough_new_outcomes_arrived():
    contacts_make(*segment_decides(n=200))
    predictive_model_train(folds=3)
    more_outcomes(49)

    assert predictive_model_retrain(min_new_outcomes=50) is None
    assert ScoringModel.objects.count() == 2


def test_a_retrain_with_enough_new_outcomes_activates_the_new_model_when_not_worse():
    contacts_make(*segment_decides(n=200))
    predictive_model_train(folds=3)
    previous = active_auc_set(0.5)
    more_outcomes(60)

    result = predictive_model_retrain(min_new_outcomes=50)

    assert result.kept is None
    assert result.active.rows == 260
    assert list(ScoringModel.objects.filter(is_active=True)) == [result.active]
    previous.refresh_from_db()
    assert previous.is_active is False


def test_a_retrain_keeps_the_active_model_when_the_new_one_is_worse_on_held_out_data():
    contacts_make(*segment_decides(n=200))
    predictive_model_train(folds=3)
    previous = active_auc_set(0.999)
    more_outcomes(60)

    result = predictive_model_retrain(min_new_outcomes=50)

    assert result.kept == previous
    assert result.active == previous
    assert list(ScoringModel.objects.filter(is_active=True)) == [previous]
    assert ScoringModel.objects.count() == 4  # the new pair is kept, inactive, for the record
    assert result.learned.is_active is False and result.baseline.is_active is False


def test_the_weekly_task_trains_a_first_model_and_logs_too_few_outcomes(settings, caplog):
    settings.LEADMILL_SCORING_RETRAIN_MIN_OUTCOMES = 50
    contacts_make(*segment_decides(n=30))
    predictive_model_retrain_task.call_local()
    assert not ScoringModel.objects.exists()
    assert "predictive model not retrained" in caplog.text

    more_outcomes(200)
    predictive_model_retrain_task.call_local()

    assert ScoringModel.objects.filter(is_active=True, rows=230).count() == 1
