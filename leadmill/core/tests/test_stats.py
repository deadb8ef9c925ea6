"""The statistics of A/B tests and holdouts, checked against closed forms and known values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadmill.core.stats import (
    Arm,
    StopRule,
    chi_square_sf,
    expected_loss,
    expected_loss_two,
    probability_b_beats_a,
    probability_beta_greater,
    probability_to_be_best,
    sample_ratio_mismatch,
    stop_decision,
    uplift,
)

# Pure functions; the mark only because the suite's autouse fixtures clear database caches.
pytestmark = pytest.mark.django_db


def test_evan_millers_closed_form_gives_his_published_figure():
    # Beta(31, 200) against Beta(21, 200), the parameters of the example.
    assert probability_beta_greater(31, 200, 21, 200) == pytest.approx(0.9067042452, abs=1e-9)


def test_probability_b_beats_a_uses_a_uniform_prior():
    # 21/200 against 31/200 with Beta(1, 1) priors is Beta(22, 180) against Beta(32, 170).
    assert probability_b_beats_a(Arm(200, 21), Arm(200, 31)) == pytest.approx(
        probability_beta_greater(32, 170, 22, 180), abs=1e-12
    )
    assert probability_b_beats_a(Arm(200, 21), Arm(200, 31)) == pytest.approx(0.9300619, abs=1e-6)


def test_equal_arms_are_a_coin_toss():
    assert probability_b_beats_a(Arm(500, 50), Arm(500, 50)) == pytest.approx(0.5, abs=1e-9)


def test_the_grid_integral_agrees_with_the_closed_form_within_a_thousandth():
    # Three arms where the third never wins: the first two split what the closed form says.
    a, b, hopeless = Arm(200, 21), Arm(200, 31), Arm(100_000, 0)
    best = probability_to_be_best([a, b, hopeless])
    assert best[1] == pytest.approx(probability_b_beats_a(a, b), abs=1e-3)
    assert best[0] == pytest.approx(1 - probability_b_beats_a(a, b), abs=1e-3)
    assert best[2] < 1e-6
    assert sum(best) == pytest.approx(1.0, abs=1e-9)


def test_expected_loss_on_a_grid_agrees_with_the_exact_two_arm_loss():
    a, b, hopeless = Arm(200, 21), Arm(200, 31), Arm(100_000, 0)
    exact_a, exact_b = expected_loss_two(a, b)
    grid = expected_loss([a, b, hopeless])
    assert grid[0] == pytest.approx(exact_a, abs=1e-3)
    assert grid[1] == pytest.approx(exact_b, abs=1e-3)


def test_the_two_losses_differ_by_the_difference_of_the_posterior_means():
    a, b = Arm(200, 21), Arm(200, 31)
    loss_a, loss_b = expected_loss_two(a, b)
    assert loss_a - loss_b == pytest.approx(32 / 202 - 22 / 202, abs=1e-12)
    assert 0 < loss_b < loss_a


def test_expected_loss_two_matches_a_direct_numerical_integral():
    import numpy as np

    a, b = Arm(300, 30), Arm(300, 45)
    x = np.linspace(0, 1, 4001)[1:-1]

    def pdf(arm):
        return np.exp(
            (arm.alpha - 1) * np.log(x)
            + (arm.beta - 1) * np.log1p(-x)
            - (math.lgamma(arm.alpha) + math.lgamma(arm.beta) - math.lgamma(arm.alpha + arm.beta))
        )

    joint = np.outer(pdf(a), pdf(b))  # rows p_A, columns p_B
    gain = np.maximum(x[None, :] - x[:, None], 0)
    direct_loss_a = float((joint * gain).sum() * (x[1] - x[0]) ** 2)
    assert expected_loss_two(a, b)[0] == pytest.approx(direct_loss_a, abs=1e-4)


@pytest.mark.parametrize(
    ("statistic", "df", "p"),
    [
        (3.841458820694124, 1, 0.05),
        (5.991464547107979, 2, 0.05),
        (7.814727903251178, 3, 0.05),
        (10.827566170662733, 1, 0.001),
        (16.26623619623813, 3, 0.001),
        (0.0, 4, 1.0),
    ],
)
def test_chi_square_survival_matches_the_tables(statistic, df, p):
    assert chi_square_sf(statistic, df) == pytest.approx(p, abs=1e-9)


def test_a_fair_split_has_no_sample_ratio_mismatch():
    check = sample_ratio_mismatch([5000, 5060], [1, 1])
    assert check.statistic == pytest.approx(2 * 30**2 / 5030, rel=1e-12)
    assert not check.mismatch and check.p_value > 0.5


def test_a_skewed_split_is_flagged_below_one_in_a_thousand():
    check = sample_ratio_mismatch([5000, 5400], [1, 1])
    # (200² / 5200) * 2 = 15.38…, p ≈ 8.8e-5
    assert check.statistic == pytest.approx(2 * 200**2 / 5200, rel=1e-12)
    assert check.p_value == pytest.approx(math.erfc(math.sqrt(check.statistic / 2)), rel=1e-12)
    assert check.mismatch


def test_the_split_weights_are_honoured():
    assert not sample_ratio_mismatch([9000, 1000], [90, 10]).mismatch
    assert sample_ratio_mismatch([5000, 5000], [90, 10]).mismatch


def test_uplift_gives_rates_differences_and_95_percent_intervals():
    result = uplift(Arm(1000, 150), Arm(1000, 100))
    se = math.sqrt(0.15 * 0.85 / 1000 + 0.1 * 0.9 / 1000)
    assert result.absolute == pytest.approx(0.05)
    assert result.absolute_low == pytest.approx(0.05 - 1.959963984540054 * se)
    assert result.absolute_high == pytest.approx(0.05 + 1.959963984540054 * se)
    assert result.relative == pytest.approx(0.5)
    se_log = math.sqrt(1 / 150 - 1 / 1000 + 1 / 100 - 1 / 1000)
    assert result.relative_low == pytest.approx(1.5 * math.exp(-1.959963984540054 * se_log) - 1)
    assert result.relative_high == pytest.approx(1.5 * math.exp(1.959963984540054 * se_log) - 1)


def test_uplift_without_control_conversions_has_no_relative_figure():
    result = uplift(Arm(100, 5), Arm(100, 0))
    assert result.absolute == pytest.approx(0.05)
    assert result.relative is None and result.relative_low is None


def test_uplift_of_an_empty_group_is_unknown_not_an_error():
    result = uplift(Arm(0, 0), Arm(100, 5))
    assert result.treated_rate is None and result.absolute is None


def test_an_arm_with_more_conversions_than_exposures_is_refused():
    with pytest.raises(ValueError):
        Arm(10, 11)


def test_the_stop_rule_waits_for_days_and_exposures_then_picks_the_low_risk_winner():
    rule = StopRule(min_days=7, min_exposures=1000, risk_threshold=0.001)
    clear = [Arm(5000, 250), Arm(5000, 400)]
    assert stop_decision(clear, days_running=3, rule=rule) == (False, None)
    assert stop_decision([Arm(500, 25), Arm(500, 40)], days_running=10, rule=rule) == (False, None)
    assert stop_decision(clear, days_running=10, rule=rule) == (True, 1)
    close = [Arm(5000, 250), Arm(5000, 255)]
    assert stop_decision(close, days_running=10, rule=rule) == (False, None)


arms = st.integers(min_value=0, max_value=5000).flatmap(
    lambda n: st.builds(Arm, st.just(n), st.integers(min_value=0, max_value=n))
)


@settings(max_examples=60, deadline=None)
@given(st.lists(arms, min_size=2, max_size=4))
def test_any_counts_give_probabilities_that_sum_to_one_and_losses_that_are_not_negative(group):
    best = probability_to_be_best(group)
    risks = expected_loss(group)
    assert all(0.0 <= p <= 1.0 for p in best)
    assert sum(best) == pytest.approx(1.0, abs=1e-6)
    assert all(risk >= 0.0 and math.isfinite(risk) for risk in risks)


@settings(max_examples=60, deadline=None)
@given(arms, arms)
def test_swapping_two_arms_swaps_their_figures(a, b):
    assert probability_b_beats_a(a, b) == pytest.approx(1 - probability_b_beats_a(b, a), abs=1e-9)
    loss_a, loss_b = expected_loss_two(a, b)
    swapped_b, swapped_a = expected_loss_two(b, a)
    assert (loss_a, loss_b) == pytest.approx((swapped_a, swapped_b), abs=1e-9)
