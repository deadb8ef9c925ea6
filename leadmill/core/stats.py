"""The statistics of experiments: A/B tests on landing pages and nurture holdouts.

Pure functions over counts, no database. Capture's A/B results and nurture's uplift report
call them; analytics shows their figures. Bayesian figures follow the Beta-Binomial model
that GrowthBook and Evan Miller describe, with a uniform Beta(1, 1) prior:

- two variants: the closed form of Evan Miller ("Formulas for Bayesian A/B testing"), exact;
- more variants: a numerical integral over a grid around the posteriors (numpy), which agrees
  with the closed form to better than 1e-4 on two variants (see the tests).

The chi-square survival function and the normal quantile are closed forms (``math``), so
nothing here needs scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054  # the two-sided 95 % quantile of the standard normal
SRM_P_THRESHOLD = 0.001
_GRID_POINTS = 40001


@dataclass(frozen=True)
class Arm:
    """One variant (or group) of an experiment: how many were exposed, how many converted."""

    exposures: int
    conversions: int

    def __post_init__(self) -> None:
        if self.exposures < 0 or self.conversions < 0 or self.conversions > self.exposures:
            raise ValueError(
                f"an arm needs 0 <= conversions <= exposures, got {self.conversions}/{self.exposures}"
            )

    @property
    def rate(self) -> float | None:
        return self.conversions / self.exposures if self.exposures else None

    @property
    def alpha(self) -> int:
        return 1 + self.conversions

    @property
    def beta(self) -> int:
        return 1 + self.exposures - self.conversions


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def probability_beta_greater(a_b: float, b_b: float, a_a: float, b_a: float) -> float:
    """P(X_B > X_A) for X_B ~ Beta(a_b, b_b), X_A ~ Beta(a_a, b_a), with ``a_b`` a whole number
    (Evan Miller's sum, in logs so that thousands of conversions do not overflow)."""
    total = 0.0
    log_beta_a = _log_beta(a_a, b_a)
    for i in range(int(a_b)):
        total += math.exp(
            _log_beta(a_a + i, b_a + b_b) - math.log(b_b + i) - _log_beta(1 + i, b_b) - log_beta_a
        )
    return min(1.0, max(0.0, total))


def probability_b_beats_a(a: Arm, b: Arm) -> float:
    """P(rate of B > rate of A) under Beta(1, 1) priors, exact (Evan Miller's closed form).

    Evan Miller's figure 0.9067042452 is ``probability_beta_greater(31, 200, 21, 200)``:
    the Beta parameters themselves; with the prior, 21/200 against 31/200 gives 0.9300619."""
    return probability_beta_greater(b.alpha, b.beta, a.alpha, a.beta)


def expected_loss_two(a: Arm, b: Arm) -> tuple[float, float]:
    """The expected loss (risk) of choosing A and of choosing B, exact for two variants:
    E[max(p_B - p_A, 0)] and E[max(p_A - p_B, 0)], by size-biasing the Beta posteriors."""
    mean_a = a.alpha / (a.alpha + a.beta)
    mean_b = b.alpha / (b.alpha + b.beta)
    # E[p_B 1(p_B > p_A)] = mean_B * P(Beta(a_B + 1, b_B) > Beta(a_A, b_A)), and likewise for A.
    b_part = mean_b * probability_beta_greater(b.alpha + 1, b.beta, a.alpha, a.beta)
    a_part = mean_a * probability_beta_greater(b.alpha, b.beta, a.alpha + 1, a.beta)
    loss_a = max(0.0, b_part - a_part)
    return loss_a, max(0.0, loss_a - (mean_b - mean_a))


def _beta_grid(arms: Sequence[Arm]) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """A grid over where the posteriors have their mass, with each one's density and CDF."""
    low, high = 1.0, 0.0
    for arm in arms:
        a, b = arm.alpha, arm.beta
        mean = a / (a + b)
        sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        low, high = min(low, mean - 12 * sd), max(high, mean + 12 * sd)
    x = np.linspace(max(0.0, low), min(1.0, high), _GRID_POINTS)
    densities, cdfs = [], []
    inside = (x > 0.0) & (x < 1.0)
    step = np.diff(x)
    for arm in arms:
        a, b = arm.alpha, arm.beta
        log_norm = _log_beta(a, b)
        pdf = np.zeros_like(x)
        pdf[inside] = np.exp(
            (a - 1) * np.log(x[inside]) + (b - 1) * np.log1p(-x[inside]) - log_norm
        )
        # At 0 or 1 the density is finite only when that exponent is 0 (alpha or beta is 1).
        pdf[x == 0.0] = math.exp(-log_norm) if a == 1 else 0.0
        pdf[x == 1.0] = math.exp(-log_norm) if b == 1 else 0.0
        cdf = np.concatenate([[0.0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * step)])
        mass = cdf[-1] if cdf[-1] > 0 else 1.0
        densities.append(pdf / mass)
        cdfs.append(cdf / mass)
    return x, densities, cdfs


def probability_to_be_best(arms: Sequence[Arm]) -> list[float]:
    """For each variant, the probability that its rate is the highest (they sum to 1).

    Two variants: exact. More: P(i best) = ∫ f_i(x) ∏_{j≠i} F_j(x) dx on a grid."""
    if len(arms) < 2:
        return [1.0] * len(arms)
    if len(arms) == 2:
        b_wins = probability_b_beats_a(arms[0], arms[1])
        return [1.0 - b_wins, b_wins]
    x, densities, cdfs = _beta_grid(arms)
    result = []
    for i, density in enumerate(densities):
        integrand = density.copy()
        for j, cdf in enumerate(cdfs):
            if j != i:
                integrand *= cdf
        result.append(float(np.trapezoid(integrand, x)))
    total = sum(result) or 1.0
    return [value / total for value in result]


def expected_loss(arms: Sequence[Arm]) -> list[float]:
    """For each variant, the expected loss (risk) of choosing it: E[max_j p_j - p_i], the
    conversion rate given up on average if it is not the best. Two variants: exact."""
    if len(arms) < 2:
        return [0.0] * len(arms)
    if len(arms) == 2:
        return list(expected_loss_two(arms[0], arms[1]))
    x, _densities, cdfs = _beta_grid(arms)
    max_cdf = np.ones_like(x)
    for cdf in cdfs:
        max_cdf *= cdf
    # E[max] = ∫_0^1 P(max > t) dt; below the grid P(max > t) = 1.
    expected_max = float(x[0] + np.trapezoid(1.0 - max_cdf, x))
    return [max(0.0, expected_max - arm.alpha / (arm.alpha + arm.beta)) for arm in arms]


def chi_square_sf(statistic: float, degrees_of_freedom: int) -> float:
    """P(χ²_k ≥ statistic), the survival function, in closed form for whole k."""
    if degrees_of_freedom < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if statistic <= 0:
        return 1.0
    half = statistic / 2
    if degrees_of_freedom % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, degrees_of_freedom // 2):
            term *= half / i
            total += term
        return min(1.0, math.exp(-half) * total)
    root = math.sqrt(statistic)
    total = math.erfc(root / math.sqrt(2))
    if degrees_of_freedom > 1:
        term = math.sqrt(2 * statistic / math.pi) * math.exp(-half)
        series = term
        for i in range(1, (degrees_of_freedom - 1) // 2):
            term *= statistic / (2 * i + 1)
            series += term
        total += series
    return min(1.0, total)


@dataclass(frozen=True)
class SampleRatio:
    """The sample-ratio-mismatch check: the chi-square of the exposures against the split."""

    statistic: float
    p_value: float
    mismatch: bool


def sample_ratio_mismatch(
    exposures: Sequence[int], weights: Sequence[float], *, threshold: float = SRM_P_THRESHOLD
) -> SampleRatio:
    """Chi-square goodness of fit of ``exposures`` to the configured split ``weights``;
    ``mismatch`` when p < ``threshold`` (0.001): the assignment, not chance, is at fault."""
    if len(exposures) != len(weights) or len(exposures) < 2:
        raise ValueError("one weight per variant, at least two variants")
    total = sum(exposures)
    weight_sum = float(sum(weights))
    if total == 0 or weight_sum <= 0:
        return SampleRatio(0.0, 1.0, False)
    statistic = 0.0
    for observed, weight in zip(exposures, weights, strict=True):
        expected = total * weight / weight_sum
        if expected > 0:
            statistic += (observed - expected) ** 2 / expected
        elif observed:
            return SampleRatio(math.inf, 0.0, True)
    p_value = chi_square_sf(statistic, len(exposures) - 1)
    return SampleRatio(statistic, p_value, p_value < threshold)


@dataclass(frozen=True)
class Uplift:
    """Treated against control: rates, the absolute difference and the relative change,
    each with a 95 % interval. ``relative*`` are None when the control rate is 0."""

    treated_rate: float | None
    control_rate: float | None
    absolute: float | None
    absolute_low: float | None
    absolute_high: float | None
    relative: float | None
    relative_low: float | None
    relative_high: float | None


def uplift(treated: Arm, control: Arm) -> Uplift:
    """Absolute uplift (difference of rates, Wald interval) and relative uplift (ratio of
    rates minus one, Katz log interval), both at 95 %."""
    p_t, p_c = treated.rate, control.rate
    if p_t is None or p_c is None:
        return Uplift(p_t, p_c, None, None, None, None, None, None)
    diff = p_t - p_c
    se = math.sqrt(p_t * (1 - p_t) / treated.exposures + p_c * (1 - p_c) / control.exposures)
    rel = rel_low = rel_high = None
    if treated.conversions and control.conversions:
        ratio = p_t / p_c
        se_log = math.sqrt(
            1 / treated.conversions
            - 1 / treated.exposures
            + 1 / control.conversions
            - 1 / control.exposures
        )
        rel = ratio - 1
        rel_low = ratio * math.exp(-Z_95 * se_log) - 1
        rel_high = ratio * math.exp(Z_95 * se_log) - 1
    elif p_c:
        rel = p_t / p_c - 1
    return Uplift(p_t, p_c, diff, diff - Z_95 * se, diff + Z_95 * se, rel, rel_low, rel_high)


@dataclass(frozen=True)
class StopRule:
    """When a test may stop: after ``min_days`` and ``min_exposures`` per variant, as soon as
    the leader's expected loss is below ``risk_threshold`` (absolute conversion rate)."""

    min_days: int = 7
    min_exposures: int = 100
    risk_threshold: float = 0.0025


def stop_decision(
    arms: Sequence[Arm], *, days_running: float, rule: StopRule
) -> tuple[bool, int | None]:
    """(may stop, index of the winner): the variant with the lowest risk wins once the rule's
    minimums are met and its risk is under the threshold; else (False, None)."""
    if len(arms) < 2 or days_running < rule.min_days:
        return False, None
    if min(arm.exposures for arm in arms) < rule.min_exposures:
        return False, None
    risks = expected_loss(arms)
    leader = min(range(len(arms)), key=risks.__getitem__)
    if risks[leader] < rule.risk_threshold:
        return True, leader
    return False, None
