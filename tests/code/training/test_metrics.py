"""Unit tests of models/metrics.py against values worked out by hand on tiny arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from models.metrics import (
    expected_calibration_error,
    is_better,
    pinball_loss,
    probability_metrics,
    quantile_metrics,
    regression_metrics,
    status_metrics,
)


def test_regression_metrics_by_hand() -> None:
    # errors 0, 0, 0, 2: MAE 0.5, MSE 1; total sum of squares around 2.5 is 5, so R² = 1 - 4/5.
    got = regression_metrics(np.array([1.0, 2, 3, 4]), np.array([1.0, 2, 3, 6]))
    assert got == pytest.approx({"mae": 0.5, "rmse": 1.0, "r2": 0.2})


def test_expected_calibration_error_weights_bins_by_size() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.2, 0.1, 0.9, 0.7])  # unsorted: the bins follow p's order
    # two bins: {0.1, 0.2} observed 0 -> |0 - 0.15|; {0.7, 0.9} observed 1 -> |1 - 0.8|; (2*0.15 + 2*0.2) / 4
    assert expected_calibration_error(y, p, bins=2) == pytest.approx(0.175)
    # more bins than rows: empty bins are skipped, each row is its own bin: (0.1 + 0.2 + 0.3 + 0.1) / 4
    assert expected_calibration_error(y, p, bins=10) == pytest.approx(0.175)
    # one bin: the overall rate 0.5 against the mean probability 0.475
    assert expected_calibration_error(y, p, bins=1) == pytest.approx(0.025)


def test_probability_metrics_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    got = probability_metrics(y, p)
    assert set(got) == {"auroc", "aupr", "brier", "ece", "logloss", "prevalence"}
    # 3 of the 4 (positive, negative) pairs are ordered right (0.35 < 0.4 is the miss)
    assert got["auroc"] == pytest.approx(0.75)
    # ranked 0.8 (+), 0.4 (-), 0.35 (+), 0.1 (-): precision 1 at recall 0.5, 2/3 at recall 1
    assert got["aupr"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert got["brier"] == pytest.approx((0.1**2 + 0.4**2 + 0.65**2 + 0.2**2) / 4)  # 0.158125
    assert got["logloss"] == pytest.approx(-(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4)
    assert got["prevalence"] == 0.5
    # ten bins over four rows: every row its own bin, |y - p| averaged
    assert got["ece"] == pytest.approx((0.1 + 0.4 + 0.65 + 0.2) / 4)


def test_auroc_and_aupr_match_sklearn_on_random_scores() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 200), 0.01, 0.99)
    got = probability_metrics(y, p)
    assert got["auroc"] == pytest.approx(roc_auc_score(y, p))
    assert got["aupr"] == pytest.approx(average_precision_score(y, p))
    assert 0.5 < got["auroc"] < 1.0


def test_one_class_gives_nan_ranking_metrics_but_finite_brier() -> None:
    got = probability_metrics(np.array([0, 0, 0]), np.array([0.1, 0.2, 0.3]))
    assert math.isnan(got["auroc"])
    assert math.isnan(got["aupr"])
    assert got["brier"] == pytest.approx((0.01 + 0.04 + 0.09) / 3)
    assert got["prevalence"] == 0.0


def test_probabilities_are_clipped_so_log_loss_stays_finite() -> None:
    got = probability_metrics(np.array([1, 0]), np.array([0.0, 1.0]))  # both certain and wrong
    assert got["logloss"] == pytest.approx(-math.log(1e-6))
    assert got["brier"] == pytest.approx((1 - 1e-6) ** 2)


def test_status_metrics_accuracy_and_macro_f1_by_hand() -> None:
    actual = np.array(["under", "under", "balanced", "over", "over"])
    predicted = np.array(["under", "balanced", "balanced", "over", "under"])
    got = status_metrics(actual, predicted)
    assert got["accuracy"] == pytest.approx(3 / 5)
    # F1 per class: under P 1/2 R 1/2 -> 1/2; balanced P 1/2 R 1 -> 2/3; over P 1 R 1/2 -> 2/3
    assert got["macro_f1"] == pytest.approx((1 / 2 + 2 / 3 + 2 / 3) / 3)


def test_pinball_loss_weights_under_and_over_forecasts_by_the_level() -> None:
    y = np.array([10.0, 10.0, 10.0])
    q_pred = np.array([8.0, 12.0, 10.0])  # under by 2, over by 2, exact
    np.testing.assert_allclose(pinball_loss(y, q_pred, 0.9), [1.8, 0.2, 0.0])
    np.testing.assert_allclose(pinball_loss(y, q_pred, 0.1), [0.2, 1.8, 0.0])
    np.testing.assert_allclose(pinball_loss(y, q_pred, 0.5), [1.0, 1.0, 0.0])  # half the absolute error


def test_quantile_metrics_by_hand() -> None:
    y = np.array([10.0, 20, 30, 40])
    median = np.array([12.0, 18, 30, 44])
    scale = np.array([2.0, 4, 0, 1])  # a series with no seasonal-naive error has no MASE scale: the row is left out
    quantiles = {0.1: np.array([9.0, 15, 31, 41]), 0.9: np.array([11.0, 25, 35, 45])}
    got = quantile_metrics(y, median, quantiles, scale)
    assert set(got) == {"mase", "mae", "spl", "coverage_80"}
    assert got["mase"] == pytest.approx((2 / 2 + 2 / 4 + 4 / 1) / 3)  # row 3 (scale 0) dropped
    assert got["mae"] == pytest.approx((2 + 2 + 0 + 4) / 4)  # all rows
    # q=0.1: losses 0.1, 0.5, (0.9), 0.9, scaled 0.05, 0.125, 0.9
    # q=0.9: losses 0.1, 0.5, (0.5), 0.5, scaled 0.05, 0.125, 0.5
    spl_10 = (0.05 + 0.125 + 0.9) / 3
    spl_90 = (0.05 + 0.125 + 0.5) / 3
    assert got["spl"] == pytest.approx((spl_10 + spl_90) / 2)  # 7/24
    assert got["coverage_80"] == 0.5  # 10 and 20 inside their intervals, 30 and 40 below theirs
    np.testing.assert_array_equal(scale, [2.0, 4, 0, 1])  # the caller's scale is not modified


def test_mase_is_one_when_the_forecast_errs_by_exactly_the_scale() -> None:
    y = np.array([5.0, 7, 9])
    scale = np.array([1.0, 2, 3])
    got = quantile_metrics(y, y + np.array([1.0, -2, 3]), {}, scale)
    assert got == pytest.approx({"mase": 1.0, "mae": 2.0})  # no quantiles: no spl, no coverage


def test_quantile_metrics_names_every_interval_whose_two_ends_are_forecast() -> None:
    y = np.array([1.0, 2.0])
    levels = (0.025, 0.1, 0.165, 0.5, 0.835, 0.9, 0.975)
    width = {0.025: 3, 0.1: 2, 0.165: 1, 0.5: 0, 0.835: 1, 0.9: 2, 0.975: 3}
    quantiles = {q: y + (width[q] if q > 0.5 else -width[q]) for q in levels}
    got = quantile_metrics(y, y, quantiles, np.ones(2))
    assert {k for k in got if k.startswith("coverage_")} == {"coverage_95", "coverage_80", "coverage_67"}
    assert got["coverage_95"] == got["coverage_80"] == got["coverage_67"] == 1.0
    assert got["mase"] == 0.0
    # each level misses by its width on the safe side: q*w below the median, (1-q)*w above, averaged over 7 levels
    assert got["spl"] == pytest.approx((0.075 + 0.2 + 0.165 + 0 + 0.165 + 0.2 + 0.075) / 7)
    # a lone lower end has no interval
    only_low = quantile_metrics(y, y, {0.1: y - 1}, np.ones(2))
    assert not any(k.startswith("coverage_") for k in only_low)
    assert only_low["spl"] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("candidate", "reference", "direction", "margin", "expected"),
    [
        (0.5, 1.0, "minimize", 0.0, True),
        (1.0, 1.0, "minimize", 0.0, True),  # a tie counts with no margin
        (1.5, 1.0, "minimize", 0.0, False),
        (0.75, 1.0, "minimize", 0.25, True),  # exactly the margin
        (0.875, 1.0, "minimize", 0.25, False),  # better, but by less than the margin
        (1.5, 1.0, "maximize", 0.0, True),
        (0.5, 1.0, "maximize", 0.0, False),
        (1.25, 1.0, "maximize", 0.25, True),
        (1.125, 1.0, "maximize", 0.25, False),
        (float("nan"), 1.0, "minimize", 0.0, False),  # a broken candidate never wins
        (float("inf"), 1.0, "maximize", 0.0, False),
        (float("-inf"), 1.0, "minimize", 0.0, False),
        (5.0, float("nan"), "minimize", 0.0, True),  # a broken reference always loses
        (5.0, float("inf"), "minimize", 1.0, True),
    ],
)
def test_is_better(candidate: float, reference: float, direction: str, margin: float, expected: bool) -> None:
    assert is_better(candidate, reference, direction, margin) is expected


def test_is_better_rejects_an_unknown_direction() -> None:
    with pytest.raises(ValueError, match="direction must be minimize or maximize, got 'lower'"):
        is_better(0.5, 1.0, "lower")
