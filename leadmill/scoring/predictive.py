"""The predictive score: a calibrated probability that a lead is won, learned from past
outcomes, with the reasons behind each prediction.

Two scorers share one interface (fit on a :class:`~.tabular.Table` and a 0/1 outcome;
``predict_proba``; ``reasons``):

* :class:`LearnedModel`: gradient-boosted trees (scikit-learn's HistGradientBoosting, with
  native categorical support and missing values) wrapped in probability calibration, so a
  score of 0.30 means that about 30 % of such leads are won.
* :class:`BaselineModel`: naive-Bayes frequency tables per field value, as Odoo CRM scores
  leads: P(won | value) from counts with Laplace smoothing, fields combined as independent
  evidence, numbers binned into quantiles. Simple to explain, and the bar the learned model
  must clear before it is used.

A reason is a field whose value moved the prediction, with its effect in log-odds (natural
logarithm; +0.69 doubles the odds of winning, -0.69 halves them).

Pure functions and classes on tabular data: no Django. Fitted scorers are pickled by our own
trainer only (see :class:`~.models.ScoringModel`).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from .tabular import MISSING, ColumnKinds, Table, category_values, numeric_values

LEARNED = "learned"
BASELINE = "baseline"

# A category seen in fewer training rows than this joins OTHER: too few to learn from.
MIN_CATEGORY_ROWS = 5
# HistGradientBoosting takes at most 255 bins per feature, one of them for missing values.
MAX_CATEGORIES = 250
OTHER = "(other)"
# Isotonic calibration is the more flexible, but needs many rows; sigmoid (Platt) below this.
ISOTONIC_MIN_ROWS = 2000
CALIBRATION_FOLDS = 3
QUANTILE_BINS = 10
LAPLACE_ALPHA = 1.0
TOP_REASONS = 3
# Training leads kept with the learned model, to compare a lead's field values against.
BACKGROUND_ROWS = 50
# Leads explained per batch of predictions (each needs fields × BACKGROUND_ROWS rows).
REASONS_CHUNK = 16


@dataclasses.dataclass(frozen=True)
class Reason:
    """A field whose value moved the odds: ``effect`` > 0 raises the chance of winning."""

    field: str
    value: str
    effect: float


class Scorer(Protocol):
    kind: str
    features: tuple[str, ...]

    def fit(self, table: Table, y: np.ndarray, kinds: ColumnKinds) -> Scorer: ...

    def predict_proba(self, table: Table) -> np.ndarray: ...

    def reasons(self, table: Table, *, top: int = TOP_REASONS) -> list[list[Reason]]: ...


def _column(table: Table, name: str) -> list[str]:
    """A column's values; a column the table lacks (a contact without that custom field) is
    all missing."""
    values = table.columns.get(name)
    return values if values is not None else [""] * len(table)


def _top_reasons(
    table: Table, fields: Sequence[str], effects: np.ndarray, top: int
) -> list[list[Reason]]:
    """For each row, the ``top`` fields with the largest absolute effect (non-zero only)."""
    result = []
    for i, row_effects in enumerate(effects):
        order = np.argsort(-np.abs(row_effects), kind="stable")[:top]
        result.append(
            [
                Reason(
                    field=fields[j],
                    value=_column(table, fields[j])[i],
                    effect=round(float(row_effects[j]), 4),
                )
                for j in order
                if abs(row_effects[j]) > 1e-9
            ]
        )
    return result


# --- Feature preparation for the learned model -----------------------------------------------


class FeatureEncoder:
    """Numbers as floats (missing: NaN); categories as integer codes learned on the training
    rows, most frequent first. Rare categories share the OTHER code, and so does a category
    never seen in training; when no category was rare, an unseen one is NaN, which the trees
    send down their missing-value branch."""

    def __init__(self, kinds: ColumnKinds):
        self.numeric = kinds.numeric
        self.categorical = kinds.categorical
        self.codes: dict[str, dict[str, int]] = {}

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    @property
    def categorical_mask(self) -> np.ndarray:
        return np.array([False] * len(self.numeric) + [True] * len(self.categorical))

    def fit(self, table: Table) -> FeatureEncoder:
        for name in self.categorical:
            counts = Counter(category_values(_column(table, name)))
            frequent = [value for value, n in counts.most_common() if n >= MIN_CATEGORY_ROWS]
            kept = frequent[:MAX_CATEGORIES]
            codes = {value: code for code, value in enumerate(kept)}
            if len(kept) < len(counts):
                codes[OTHER] = len(kept)
            self.codes[name] = codes
        return self

    def transform(self, table: Table) -> np.ndarray:
        matrix = np.empty((len(table), len(self.features)), dtype=float)
        for j, name in enumerate(self.numeric):
            matrix[:, j] = numeric_values(_column(table, name))
        for j, name in enumerate(self.categorical, start=len(self.numeric)):
            codes = self.codes[name]
            other = codes.get(OTHER, np.nan)
            matrix[:, j] = [
                codes.get(value, other) for value in category_values(_column(table, name))
            ]
        return matrix


# --- The learned model -----------------------------------------------------------------------


class LearnedModel:
    """Calibrated gradient-boosted trees; see the module docstring."""

    kind = LEARNED

    def __init__(self, *, seed: int = 42, calibration: str | None = None, threads: int = 1):
        self.seed = seed
        self.threads = threads
        self.calibration = calibration
        self.encoder: FeatureEncoder | None = None
        self.model: CalibratedClassifierCV | None = None
        self.background: np.ndarray = np.empty((0, 0))

    @property
    def features(self) -> tuple[str, ...]:
        return self.encoder.features if self.encoder else ()

    def fit(self, table: Table, y: np.ndarray, kinds: ColumnKinds) -> LearnedModel:
        self.encoder = FeatureEncoder(kinds).fit(table)
        trees = HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=300,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            categorical_features=self.encoder.categorical_mask,
            early_stopping=True,
            validation_fraction=0.15,
            n_iter_no_change=20,
            random_state=self.seed,
        )
        method = self.calibration or ("isotonic" if len(y) >= ISOTONIC_MIN_ROWS else "sigmoid")
        # Shuffled folds: rows often come in time order, and a calibrator fitted on one
        # period only would learn that period's won rate, not the model's honesty.
        folds = StratifiedKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=self.seed)
        self.model = CalibratedClassifierCV(trees, method=method, cv=folds)
        matrix = self.encoder.transform(table)
        with self._threads():
            self.model.fit(matrix, np.asarray(y, dtype=int))
        rng = np.random.default_rng(self.seed)
        self.background = matrix[
            rng.choice(len(matrix), size=min(BACKGROUND_ROWS, len(matrix)), replace=False)
        ]
        return self

    def _threads(self) -> threadpool_limits:
        """Cap the trees' OpenMP threads: on a small shared machine, more threads than
        cores' worth of free time makes a fit many times slower, not faster."""
        return threadpool_limits(limits=self.threads, user_api="openmp")

    def predict_proba(self, table: Table) -> np.ndarray:
        with self._threads():
            return self.model.predict_proba(self.encoder.transform(table))[:, 1]

    def _raw_log_odds(self, matrix: np.ndarray) -> np.ndarray:
        """The trees' own log-odds, averaged over the calibration folds' models: smooth where
        the calibrated probability is a step function, so small effects stay visible."""
        return np.mean(
            [
                member.estimator.decision_function(matrix)
                for member in self.model.calibrated_classifiers_
            ],
            axis=0,
        )

    def reasons(self, table: Table, *, top: int = TOP_REASONS) -> list[list[Reason]]:
        """Each field's effect is how far the trees' log-odds for the lead are from what they
        would be, on average, with that one field's value taken from typical training leads
        instead (the others kept): the fields whose value moved the score most."""
        matrix = self.encoder.transform(table)
        effects = np.vstack(
            [
                self._effects(matrix[start : start + REASONS_CHUNK])
                for start in range(0, len(matrix), REASONS_CHUNK)
            ]
        )
        return _top_reasons(table, self.features, effects, top)

    def _effects(self, matrix: np.ndarray) -> np.ndarray:
        rows, width = matrix.shape
        background = self.background
        size = len(background)
        # For each row and field: ``size`` copies of the row with that field replaced in turn.
        copies = np.repeat(matrix, width * size, axis=0).reshape(rows, width, size, width)
        for j in range(width):
            copies[:, j, :, j] = background[:, j]
        with self._threads():
            typical = (
                self._raw_log_odds(copies.reshape(-1, width))
                .reshape(rows, width, size)
                .mean(axis=2)
            )
            return self._raw_log_odds(matrix)[:, None] - typical


# --- The baseline: naive-Bayes frequency tables ----------------------------------------------


@dataclasses.dataclass(frozen=True)
class ValueOdds:
    """One row of a field's frequency table: how leads with this value turned out."""

    value: str
    rows: int
    won: int

    @property
    def won_rate(self) -> float:
        return self.won / self.rows if self.rows else 0.0


def _bin_label(edges: np.ndarray, index: int) -> str:
    if index == 0:
        return f"<= {edges[0]:g}"
    if index == len(edges):
        return f"> {edges[-1]:g}"
    return f"{edges[index - 1]:g} – {edges[index]:g}"


class BaselineModel:
    """Naive Bayes on per-value won/lost counts, as Odoo CRM's predictive lead scoring.

    P(won | values) = P(won) Π P(value | won) / (that + P(lost) Π P(value | lost)), each
    P(value | outcome) = (count + 1) / (outcome's rows + distinct values) (Laplace). A value
    never seen in training says nothing, so its field is left out of the product.
    """

    kind = BASELINE

    def __init__(self, *, alpha: float = LAPLACE_ALPHA, quantile_bins: int = QUANTILE_BINS):
        self.alpha = alpha
        self.quantile_bins = quantile_bins
        self.numeric: tuple[str, ...] = ()
        self.categorical: tuple[str, ...] = ()
        self.edges: dict[str, np.ndarray] = {}
        # field -> value -> (lost, won)
        self.counts: dict[str, dict[str, tuple[int, int]]] = {}
        self.won = 0
        self.lost = 0

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def _values(self, table: Table, name: str) -> list[str]:
        """A field's values as the tables count them: numbers become their quantile bin."""
        if name not in self.edges:
            return category_values(_column(table, name))
        edges = self.edges[name]
        numbers = numeric_values(_column(table, name))
        bins = np.searchsorted(edges, numbers, side="left")
        return [
            MISSING if math.isnan(x) else _bin_label(edges, int(b))
            for x, b in zip(numbers, bins, strict=True)
        ]

    def fit(self, table: Table, y: np.ndarray, kinds: ColumnKinds) -> BaselineModel:
        y = np.asarray(y, dtype=int)
        self.numeric, self.categorical = kinds.numeric, kinds.categorical
        self.won, self.lost = int(y.sum()), int(len(y) - y.sum())
        quantiles = np.linspace(0, 1, self.quantile_bins + 1)[1:-1]
        for name in self.numeric:
            numbers = numeric_values(_column(table, name))
            known = numbers[~np.isnan(numbers)]
            self.edges[name] = (
                np.unique(np.quantile(known, quantiles)) if len(known) else np.array([0.0])
            )
        for name in self.features:
            pairs = Counter(zip(self._values(table, name), y.tolist(), strict=True))
            values = {value for value, _ in pairs}
            self.counts[name] = {value: (pairs[(value, 0)], pairs[(value, 1)]) for value in values}
        return self

    def frequency_table(self, field: str) -> list[ValueOdds]:
        """The field's values with their rows and won rows, most rows first."""
        table = [
            ValueOdds(value, lost + won, won) for value, (lost, won) in self.counts[field].items()
        ]
        return sorted(table, key=lambda row: (-row.rows, row.value))

    def _evidence(self, table: Table) -> np.ndarray:
        """Per row and field: log P(value | won) - log P(value | lost); 0 for unseen values."""
        evidence = np.zeros((len(table), len(self.features)))
        for j, name in enumerate(self.features):
            counts = self.counts[name]
            distinct = len(counts)
            won_total = self.won + self.alpha * distinct
            lost_total = self.lost + self.alpha * distinct
            ratio: dict[str, float] = {
                value: math.log((won + self.alpha) / won_total)
                - math.log((lost + self.alpha) / lost_total)
                for value, (lost, won) in counts.items()
            }
            evidence[:, j] = [ratio.get(value, 0.0) for value in self._values(table, name)]
        return evidence

    def predict_proba(self, table: Table) -> np.ndarray:
        prior = math.log(self.won / self.lost)
        log_odds = prior + self._evidence(table).sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))

    def reasons(self, table: Table, *, top: int = TOP_REASONS) -> list[list[Reason]]:
        return _top_reasons(table, self.features, self._evidence(table), top)


def scorer_make(kind: str, *, seed: int = 42, threads: int = 1) -> Scorer:
    """A new, unfitted scorer of ``kind``; ``threads`` caps the CPU threads of the trees."""
    if kind == LEARNED:
        return LearnedModel(seed=seed, threads=threads)
    if kind == BASELINE:
        return BaselineModel()
    raise ValueError(f"unknown scorer kind {kind!r}")
