"""Training the predictive model on contacts with a known outcome, activating the better
one, and retraining on a schedule when enough new outcomes arrived."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import numpy as np
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.contacts.models import Outcome
from leadmill.core.errors import ValidationFailed

from .backtest import CV, MIN_NEGATIVES, MIN_POSITIVES, ModelReport, backtest
from .metrics import DECILES
from .models import ScoringModel
from .predictive import BASELINE, LEARNED, Scorer, scorer_make
from .selectors import contact_features, contacts_with_outcome, scoring_model_active
from .serialization import library_versions, scorer_dumps
from .tabular import ColumnKinds, TableError, column_kinds, table_from_rows

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    """The two models one training stored; ``kept`` is the model that stayed active because
    the new ones did worse (only with ``keep_better_active``)."""

    learned: ScoringModel
    baseline: ScoringModel
    kept: ScoringModel | None = None

    @property
    def active(self) -> ScoringModel:
        if self.kept is not None:
            return self.kept
        return self.learned if self.learned.is_active else self.baseline


def _report_metrics(report: ModelReport, *, other: ModelReport, folds: int) -> dict:
    return {
        "auc": round(report.auc, 4),
        "auc_std": round(report.auc_std, 4),
        "ece": round(report.ece, 4),
        "ece_std": round(report.ece_std, 4),
        "lift": [round(value, 3) for value in report.lift],
        "calibration": [dataclasses.asdict(row) for row in report.calibration],
        "split": CV,
        "folds": folds,
        "compared_with": {"kind": other.kind, "auc": round(other.auc, 4)},
    }


def _scoring_model_create(
    *,
    scorer: Scorer,
    metrics: dict,
    kinds: ColumnKinds,
    rows: int,
    positives: int,
    active: bool,
    at: dt.datetime,
) -> ScoringModel:
    fitted, digest = scorer_dumps(scorer)
    return ScoringModel.objects.create(
        kind=scorer.kind,
        trained_at=at,
        is_active=active,
        metrics=metrics,
        features={
            "numeric": list(kinds.numeric),
            "categorical": list(kinds.categorical),
            "ignored": kinds.ignored,
        },
        rows=rows,
        positives=positives,
        fitted=fitted,
        fitted_digest=digest,
        library_versions=library_versions(),
    )


def predictive_model_train(
    *, folds: int = 5, seed: int = 42, threads: int = 1, keep_better_active: bool = False
) -> TrainingResult:
    """Train the learned model and the baseline on contacts marked won or lost, and activate
    the learned one only if its cross-validated (held-out) AUC beats the baseline's.

    With ``keep_better_active`` (the scheduled retrain), the model active before stays
    active when its held-out AUC (recorded at its training) is higher than the new
    winner's; the new models are stored inactive, with their metrics, for the record.

    Features are the profile fields of :data:`.selectors.FEATURE_FIELDS` and the custom
    fields. Both models are stored with their held-out metrics; the previously active model
    is deactivated in the same transaction, so predictive scores switch at once. Training
    takes about a minute per 40,000 contacts on one core: run it from a task or the command,
    never in a request.

    Raises ValidationFailed when fewer than 20 contacts are won or 20 lost, or no profile
    field has values to learn from.
    """
    contacts = list(contacts_with_outcome())
    y = np.array([contact.outcome == Outcome.WON for contact in contacts], dtype=int)
    won, lost = int(y.sum()), int(len(y) - y.sum())
    if won < MIN_POSITIVES or lost < MIN_NEGATIVES:
        raise ValidationFailed(
            _(
                "The predictive score needs at least %(won)d won and %(lost)d lost leads to learn "
                "from; there are %(has_won)d won and %(has_lost)d lost. Record more outcomes first."
            )
            % {"won": MIN_POSITIVES, "lost": MIN_NEGATIVES, "has_won": won, "has_lost": lost},
            code="too_few_outcomes",
        )
    folds = max(2, min(folds, len(y) // DECILES))  # every held-out fold needs a row per decile
    table = table_from_rows([contact_features(contact=contact) for contact in contacts])
    kinds = column_kinds(table)
    try:
        report = backtest(table, y, split=CV, folds=folds, seed=seed, kinds=kinds, threads=threads)
    except TableError as exc:
        raise ValidationFailed(str(exc), code="cannot_train") from exc
    scorers = {
        kind: scorer_make(kind, seed=seed, threads=threads).fit(table, y, kinds)
        for kind in (LEARNED, BASELINE)
    }
    learned_wins = report.learned.auc > report.baseline.auc
    new_auc = max(report.learned.auc, report.baseline.auc)
    now = timezone.now()
    common = {"kinds": kinds, "rows": len(y), "positives": won, "at": now}
    with transaction.atomic():
        previous = (
            ScoringModel.objects.select_for_update().filter(is_active=True).defer("fitted").first()
        )
        kept = (
            previous
            if keep_better_active
            and previous is not None
            and previous.metrics.get("auc", 0) > round(new_auc, 4)
            else None
        )
        if kept is None:
            ScoringModel.objects.filter(is_active=True).update(is_active=False)
        learned = _scoring_model_create(
            scorer=scorers[LEARNED],
            metrics=_report_metrics(report.learned, other=report.baseline, folds=report.folds),
            active=learned_wins and kept is None,
            **common,
        )
        baseline = _scoring_model_create(
            scorer=scorers[BASELINE],
            metrics=_report_metrics(report.baseline, other=report.learned, folds=report.folds),
            active=not learned_wins and kept is None,
            **common,
        )
    if kept is not None:
        logger.info(
            "predictive model %s (AUC %.3f) stays active: the new models %s and %s reached AUC %.3f",
            kept.pk,
            kept.metrics.get("auc", 0),
            learned.pk,
            baseline.pk,
            new_auc,
        )
        return TrainingResult(learned=learned, baseline=baseline, kept=kept)
    logger.info(
        "predictive models %s (learned, AUC %.3f) and %s (baseline, AUC %.3f) trained on %s contacts; active: %s",
        learned.pk,
        report.learned.auc,
        baseline.pk,
        report.baseline.auc,
        len(y),
        LEARNED if learned_wins else BASELINE,
    )
    return TrainingResult(learned=learned, baseline=baseline)


def predictive_model_retrain(
    *, min_new_outcomes: int, seed: int = 42, threads: int = 1
) -> TrainingResult | None:
    """Train again when at least ``min_new_outcomes`` won or lost contacts more than the
    active model learned from exist (any number enough to train when no model is active),
    keeping the active model when the new one does worse on held-out data
    (:func:`predictive_model_train` with ``keep_better_active``).

    Returns None when not due; raises ValidationFailed like :func:`predictive_model_train`.
    """
    active = scoring_model_active()
    outcomes = contacts_with_outcome().count()
    if active is not None and outcomes - active.rows < min_new_outcomes:
        logger.info(
            "predictive model not retrained: %s outcomes, %s when model %s was trained (needs %s more)",
            outcomes,
            active.rows,
            active.pk,
            min_new_outcomes,
        )
        return None
    return predictive_model_train(seed=seed, threads=threads, keep_better_active=True)
