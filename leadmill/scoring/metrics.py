"""How good a predictive score is: ranking (AUC, lift by decile) and honesty (calibration).

``y`` is 1 for a won (positive) row and 0 otherwise; ``p`` the predicted probability.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.metrics import roc_auc_score

DECILES = 10
CALIBRATION_BINS = 10


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random won row scores above a random lost
    one (ties count one half). 0.5 is a coin; 1.0 a perfect ranking."""
    return float(roc_auc_score(y, p))


def lift_by_decile(y: np.ndarray, p: np.ndarray) -> list[float]:
    """Won rate in each tenth of the rows, best-scored tenth first, divided by the base rate.

    A lift of 3.0 in the first decile means the top 10 % of scores hold three times as
    many won rows as 10 % of rows picked at random. Rows are sorted by score, highest first
    (ties keep their input order), and cut into ten groups whose sizes differ by at most one.
    """
    y = np.asarray(y, dtype=float)
    base_rate = y.mean()
    if len(y) < DECILES or base_rate == 0:
        raise ValueError("lift needs at least 10 rows and one won row")
    order = np.argsort(-np.asarray(p, dtype=float), kind="stable")
    return [float(y[group].mean() / base_rate) for group in np.array_split(order, DECILES)]


@dataclasses.dataclass(frozen=True)
class CalibrationBin:
    """Rows whose predicted probability fell in ``[low, high)`` (the last bin includes 1.0)."""

    low: float
    high: float
    count: int
    mean_predicted: float | None
    observed_rate: float | None


def calibration_table(
    y: np.ndarray, p: np.ndarray, *, bins: int = CALIBRATION_BINS
) -> list[CalibrationBin]:
    """Predicted against observed won rate in equal-width probability bins.

    An honest score has ``mean_predicted`` close to ``observed_rate`` in every bin with rows;
    empty bins have None for both.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    table = []
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        table.append(
            CalibrationBin(
                low=b / bins,
                high=(b + 1) / bins,
                count=count,
                mean_predicted=float(p[members].mean()) if count else None,
                observed_rate=float(y[members].mean()) if count else None,
            )
        )
    return table


def expected_calibration_error(
    y: np.ndarray, p: np.ndarray, *, bins: int = CALIBRATION_BINS
) -> float:
    """ECE: the gap between mean predicted and observed rate per bin, weighted by the bin's
    share of rows (equal-width bins, as :func:`calibration_table`). 0 is perfectly honest."""
    total = len(y)
    return float(
        sum(
            row.count / total * abs(row.mean_predicted - row.observed_rate)
            for row in calibration_table(y, p, bins=bins)
            if row.count
        )
    )
