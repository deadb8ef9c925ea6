"""Metrics of the predictive score on inputs small enough to compute by hand."""

import numpy as np
import pytest

from ..metrics import (
    CalibrationBin,
    auc,
    calibration_table,
    expected_calibration_error,
    lift_by_decile,
)

# The shared autouse fixtures clear the cache table, so every test takes the database.
pytestmark = pytest.mark.django_db


def test_auc_is_the_share_of_won_lost_pairs_ranked_right():
    # Pairs (won, lost): 0.35>0.10 yes, 0.35>0.40 no, 0.80>0.10 yes, 0.80>0.40 yes: 3 of 4.
    y = np.array([0, 0, 1, 1])
    p = np.array([0.10, 0.40, 0.35, 0.80])

    assert auc(y, p) == 0.75


def test_auc_counts_a_tie_as_half_a_pair():
    assert auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5


def test_lift_by_decile_is_each_tenths_won_rate_over_the_base_rate():
    # 20 rows scored 1.00, 0.95, … 0.05; won: the three best and the worst. Base rate 4/20.
    p = np.array([(20 - i) / 20 for i in range(20)])
    y = np.zeros(20)
    y[[0, 1, 2, 19]] = 1

    lift = lift_by_decile(y, p)

    assert lift == pytest.approx([5.0, 2.5, 0, 0, 0, 0, 0, 0, 0, 2.5])


def test_lift_sorts_by_score_not_by_input_order():
    p = np.array([(i + 1) / 20 for i in range(20)])  # best score last
    y = np.zeros(20)
    y[[18, 19]] = 1

    assert lift_by_decile(y, p)[0] == pytest.approx(10.0)


def test_lift_refuses_data_without_a_won_row():
    with pytest.raises(ValueError, match="one won row"):
        lift_by_decile(np.zeros(20), np.linspace(0, 1, 20))


def test_calibration_table_bins_by_predicted_probability_with_one_in_the_last_bin():
    y = np.array([0, 1, 1, 1, 1])
    p = np.array([0.15, 0.15, 0.85, 0.85, 1.0])

    table = calibration_table(y, p)

    assert len(table) == 10
    assert table[1] == CalibrationBin(
        low=0.1, high=0.2, count=2, mean_predicted=0.15, observed_rate=0.5
    )
    assert table[8] == CalibrationBin(
        low=0.8, high=0.9, count=2, mean_predicted=0.85, observed_rate=1.0
    )
    assert table[9].count == 1 and table[9].mean_predicted == 1.0
    assert [row.count for row in table] == [0, 2, 0, 0, 0, 0, 0, 0, 2, 1]
    assert table[0].mean_predicted is None and table[0].observed_rate is None


def test_ece_weights_each_bins_gap_by_its_share_of_rows():
    # Bin 0.1–0.2: predicted 0.15, observed 0.5 (gap 0.35), half the rows: 0.175.
    # Bin 0.8–0.9: predicted 0.85, observed 1.0 (gap 0.15), half the rows: 0.075.
    y = np.array([0, 1, 1, 1])
    p = np.array([0.15, 0.15, 0.85, 0.85])

    assert expected_calibration_error(y, p) == pytest.approx(0.25)


def test_ece_of_probabilities_equal_to_the_observed_rates_is_zero():
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    p = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])

    assert expected_calibration_error(y, p) == pytest.approx(0.0)
