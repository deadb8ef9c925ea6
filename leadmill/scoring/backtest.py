"""Backtest: how well the learned model and the baseline would have predicted outcomes they
did not see. Backs ``leadmill scoring evaluate`` and the trainer's choice of model.

Two ways of holding rows out:

* ``cv``: stratified k-fold cross-validation with a fixed seed (each row is predicted once,
  by a model trained on the other folds);
* ``time``: train on the first 80 % of rows (file order: oldest first), test on the rest.
  Harder and closer to real use, since campaigns and markets drift.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections import Counter

import numpy as np
from sklearn.model_selection import StratifiedKFold

from . import metrics
from .predictive import BASELINE, LEARNED, scorer_make
from .tabular import ColumnKinds, Table, TableError, column_kinds, is_missing

CV, TIME = "cv", "time"
SPLITS = (CV, TIME)
TIME_TRAIN_SHARE = 0.8
MIN_POSITIVES = 20
MIN_NEGATIVES = 20


def outcome_labels(table: Table, *, target: str, positive: str) -> tuple[Table, np.ndarray, int]:
    """Split the outcome column off: the table of the other columns, y (1 = ``positive``) and
    how many rows were dropped because their outcome is not known.

    Raises TableError when the target column is absent, ``positive`` never occurs, or there
    are too few won or lost rows to learn from.
    """
    if target not in table.columns:
        raise TableError(
            f"There is no column {target!r} to predict (columns: {', '.join(table.names)})."
        )
    outcomes = table.columns[target]
    known = [i for i, value in enumerate(outcomes) if not is_missing(value)]
    dropped = len(outcomes) - len(known)
    table = table.without([target]).take(known) if dropped else table.without([target])
    y = np.array([outcomes[i] == positive for i in known], dtype=int)
    positives = int(y.sum())
    if positives == 0:
        seen = ", ".join(
            repr(value) for value, _ in Counter(outcomes[i] for i in known).most_common(10)
        )
        raise TableError(
            f"No row has {target} = {positive!r}; the values found are {seen}. "
            "Give one of them with --positive (it is case-sensitive)."
        )
    if positives < MIN_POSITIVES or len(y) - positives < MIN_NEGATIVES:
        raise TableError(
            f"Too few outcomes to learn from: {positives} rows are {positive!r} and "
            f"{len(y) - positives} are not; at least {MIN_POSITIVES} of each are needed."
        )
    return table, y, dropped


@dataclasses.dataclass
class ModelReport:
    """One scorer's held-out figures: per fold, and for the pooled held-out predictions."""

    kind: str
    auc_folds: list[float] = dataclasses.field(default_factory=list)
    ece_folds: list[float] = dataclasses.field(default_factory=list)
    lift_folds: list[list[float]] = dataclasses.field(default_factory=list)
    calibration: list[metrics.CalibrationBin] = dataclasses.field(default_factory=list)

    @staticmethod
    def _mean_std(values: list[float]) -> tuple[float, float]:
        return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0

    @property
    def auc(self) -> float:
        return self._mean_std(self.auc_folds)[0]

    @property
    def auc_std(self) -> float:
        return self._mean_std(self.auc_folds)[1]

    @property
    def ece(self) -> float:
        return self._mean_std(self.ece_folds)[0]

    @property
    def ece_std(self) -> float:
        return self._mean_std(self.ece_folds)[1]

    @property
    def lift(self) -> list[float]:
        """Lift per decile, mean over folds."""
        return [statistics.fmean(column) for column in zip(*self.lift_folds, strict=True)]


@dataclasses.dataclass
class Backtest:
    rows: int
    positives: int
    split: str
    folds: int
    seed: int
    kinds: ColumnKinds
    learned: ModelReport
    baseline: ModelReport
    seconds: float = 0.0


def holdout_splits(
    y: np.ndarray, *, split: str, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) pairs for the split; see the module docstring."""
    if split == CV:
        if folds < 2:
            raise TableError("Cross-validation needs at least 2 folds (--folds).")
        if min(int(y.sum()), int(len(y) - y.sum())) < folds:
            raise TableError(f"{folds} folds need at least {folds} won and {folds} lost rows.")
        if len(y) // folds < metrics.DECILES:
            raise TableError(
                f"{len(y)} rows make folds of fewer than {metrics.DECILES} rows, too few to measure "
                f"lift by decile: use at most {max(2, len(y) // metrics.DECILES)} folds (--folds)."
            )
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(y)), y))
    if split == TIME:
        cut = int(len(y) * TIME_TRAIN_SHARE)
        train, test = np.arange(cut), np.arange(cut, len(y))
        if len(test) < metrics.DECILES:
            raise TableError(
                f"{len(y)} rows leave fewer than {metrics.DECILES} rows to test a split by time."
            )
        for name, rows in (("first 80 %", train), ("last 20 %", test)):
            if len(set(y[rows].tolist())) < 2:
                raise TableError(
                    f"The {name} of the rows has only one outcome; a split by time cannot be scored."
                )
        return [(train, test)]
    raise TableError(f"Unknown split {split!r}: use one of {', '.join(SPLITS)}.")


def backtest(
    table: Table,
    y: np.ndarray,
    *,
    split: str = CV,
    folds: int = 5,
    seed: int = 42,
    kinds: ColumnKinds | None = None,
    threads: int = 1,
) -> Backtest:
    """Fit both scorers on each training part and score them on the rows held out.

    Column kinds come from the values alone (never the outcome), so deciding them on all
    rows leaks nothing; category codes and quantile bins are learned inside each fold.
    ``threads`` caps the CPU threads the trees use.
    """
    started = time.perf_counter()
    kinds = kinds or column_kinds(table)
    if not kinds.features:
        raise TableError(
            "No column can be used as a feature: "
            + "; ".join(f"{k}: {v}" for k, v in kinds.ignored.items())
        )
    splits = holdout_splits(y, split=split, folds=folds, seed=seed)
    reports = {LEARNED: ModelReport(LEARNED), BASELINE: ModelReport(BASELINE)}
    held_out = {kind: np.zeros(len(y)) for kind in reports}
    tested = np.zeros(len(y), dtype=bool)
    for train, test in splits:
        train_table, test_table = table.take(train), table.take(test)
        tested[test] = True
        for kind, report in reports.items():
            scorer = scorer_make(kind, seed=seed, threads=threads).fit(train_table, y[train], kinds)
            p = scorer.predict_proba(test_table)
            held_out[kind][test] = p
            report.auc_folds.append(metrics.auc(y[test], p))
            report.ece_folds.append(metrics.expected_calibration_error(y[test], p))
            report.lift_folds.append(metrics.lift_by_decile(y[test], p))
    for kind, report in reports.items():
        report.calibration = metrics.calibration_table(y[tested], held_out[kind][tested])
    return Backtest(
        rows=len(y),
        positives=int(y.sum()),
        split=split,
        folds=len(splits),
        seed=seed,
        kinds=kinds,
        learned=reports[LEARNED],
        baseline=reports[BASELINE],
        seconds=time.perf_counter() - started,
    )
