"""The scorers: naive-Bayes frequency tables (baseline) and the calibrated learned model."""

import math

import numpy as np
import pytest

from ..backtest import backtest, outcome_labels
from ..predictive import BaselineModel, FeatureEncoder, LearnedModel, Reason, ValueOdds
from ..tabular import ColumnKinds, TableError, column_kinds, table_from_rows
from .generators import segment_and_country_together, segment_decides

# The shared autouse fixtures clear the cache table, so every test takes the database.
pytestmark = pytest.mark.django_db

SEGMENT_ONLY = ColumnKinds(numeric=(), categorical=("segment",), ignored={})


def small_segment_table():
    # saas: 2 won, 1 lost; retail: 0 won, 3 lost.
    table = table_from_rows(
        [{"segment": s} for s in ["saas", "saas", "saas", "retail", "retail", "retail"]]
    )
    return table, np.array([1, 1, 0, 0, 0, 0])


def test_baseline_counts_won_and_lost_leads_per_field_value():
    table, y = small_segment_table()

    model = BaselineModel().fit(table, y, SEGMENT_ONLY)

    assert model.frequency_table("segment") == [ValueOdds("retail", 3, 0), ValueOdds("saas", 3, 2)]


def test_baseline_probability_is_naive_bayes_with_laplace_smoothing():
    # Prior odds 2/4. P(saas|won) = (2+1)/(2+2) = 3/4, P(saas|lost) = (1+1)/(4+2) = 1/3:
    # odds 1/2 × 9/4 = 9/8, p = 9/17. P(retail|won) = 1/4, P(retail|lost) = 4/6: odds 3/16,
    # p = 3/19. A value never seen says nothing: the prior, 1/3.
    table, y = small_segment_table()
    model = BaselineModel().fit(table, y, SEGMENT_ONLY)

    p = model.predict_proba(
        table_from_rows([{"segment": "saas"}, {"segment": "retail"}, {"segment": "health"}])
    )

    assert p == pytest.approx([9 / 17, 3 / 19, 1 / 3])


def test_baseline_reasons_are_the_fields_that_moved_the_odds_with_their_log_odds_effect():
    table, y = small_segment_table()
    model = BaselineModel().fit(table, y, SEGMENT_ONLY)

    reasons = model.reasons(table_from_rows([{"segment": "saas"}, {"segment": "health"}]))

    assert reasons == [
        [Reason(field="segment", value="saas", effect=round(math.log(9 / 4), 4))],
        [],
    ]


def test_baseline_bins_numbers_into_quantiles_and_keeps_missing_as_its_own_value():
    table = table_from_rows([{"employees": v} for v in ["1", "2", "3", "4", ""]])
    kinds = ColumnKinds(numeric=("employees",), categorical=(), ignored={})

    model = BaselineModel(quantile_bins=2).fit(table, np.array([0, 0, 1, 1, 0]), kinds)

    assert model.frequency_table("employees") == [
        ValueOdds("<= 2.5", 2, 0),
        ValueOdds("> 2.5", 2, 2),
        ValueOdds("unknown", 1, 0),
    ]


def test_encoder_codes_categories_by_frequency_with_rare_and_unseen_ones_as_other():
    table = table_from_rows(
        [{"segment": "saas"}] * 6 + [{"segment": "retail"}] * 5 + [{"segment": "edu"}] * 2
    )
    encoder = FeatureEncoder(SEGMENT_ONLY).fit(table)

    matrix = encoder.transform(
        table_from_rows([{"segment": s} for s in ["saas", "retail", "edu", "new"]])
    )

    assert encoder.codes["segment"] == {"saas": 0, "retail": 1, "(other)": 2}
    assert matrix[:, 0].tolist() == [0.0, 1.0, 2.0, 2.0]


def test_encoder_leaves_an_unseen_category_missing_when_no_category_was_rare():
    table = table_from_rows([{"segment": "saas"}] * 6 + [{"segment": "retail"}] * 5)
    encoder = FeatureEncoder(SEGMENT_ONLY).fit(table)

    matrix = encoder.transform(table_from_rows([{"segment": "retail"}, {"segment": "new"}, {}]))

    assert encoder.codes["segment"] == {"saas": 0, "retail": 1}
    assert matrix[0, 0] == 1.0
    assert math.isnan(matrix[1, 0]) and math.isnan(matrix[2, 0])


def test_learned_model_scores_the_deciding_field_and_names_it_as_the_top_reason():
    rows, won = segment_decides(n=400)
    table, y = table_from_rows(rows), np.array(won, dtype=int)
    model = LearnedModel(seed=3).fit(table, y, column_kinds(table))

    leads = table_from_rows(
        [
            {"segment": "saas", "country": "BR", "role": "cto", "employees": "50"},
            {"segment": "education", "country": "BR", "role": "cto", "employees": "50"},
        ]
    )
    p = model.predict_proba(leads)
    reasons = model.reasons(leads)

    assert p[0] > 0.4 > 0.15 > p[1]
    assert (
        reasons[0][0].field == "segment"
        and reasons[0][0].value == "saas"
        and reasons[0][0].effect > 0
    )
    assert reasons[1][0].field == "segment" and reasons[1][0].effect < 0
    # Explaining many leads at once (in batches) gives each the reasons it gets alone.
    many = model.reasons(table.take(range(40)))
    assert many[17] == model.reasons(table.take([17]))[0]
    assert many[39] == model.reasons(table.take([39]))[0]


def test_backtest_holds_out_rows_so_the_learned_model_sees_what_field_tables_cannot():
    rows, won = segment_and_country_together(n=400)
    table, y = table_from_rows(rows), np.array(won, dtype=int)

    result = backtest(table, y, folds=5, seed=1)

    assert result.folds == 5 and len(result.learned.auc_folds) == 5
    assert result.learned.auc > 0.8
    assert result.baseline.auc < 0.65
    assert sum(row.count for row in result.learned.calibration) == 400


def test_backtest_split_by_time_trains_on_the_first_80_percent_and_tests_on_the_rest():
    rows, won = segment_decides(n=400)

    result = backtest(table_from_rows(rows), np.array(won, dtype=int), split="time")

    assert (result.split, result.folds) == ("time", 1)
    assert sum(row.count for row in result.learned.calibration) == 80
    assert result.learned.auc_std == 0.0


def test_outcome_labels_drop_rows_without_a_known_outcome_and_refuse_too_few_won():
    table = table_from_rows(
        [{"y": v, "x": "1"} for v in ["yes"] * 25 + ["no"] * 30 + ["", "unknown"]]
    )

    features, y, dropped = outcome_labels(table, target="y", positive="yes")

    assert (features.names, int(y.sum()), len(y), dropped) == (["x"], 25, 55, 2)
    with pytest.raises(TableError, match="Too few outcomes to learn from: 5 rows are 'yes'"):
        outcome_labels(table.take(range(20, 57)), target="y", positive="yes")
