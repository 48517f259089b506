"""The market's LightGBM correction of the classical forecast ("hybrid"): what the trees may learn from,
intervals around the corrected median, saving, and explanations that add up to the served median."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.bundle import FeatureEncoder, ModelBundle, TaskModel, load_bundle_files, save_bundle
from serving.observability import Metrics
from serving.scoring.market import explain_hybrid, is_classical, is_hybrid
from training.candidates import fit_quantile_offsets
from training.engine import learnable
from training.fit import booster_params, fit_booster

RNG = np.random.default_rng(11)
FEATURES = ["horizon", "target_festival", "classical_price"]


def festival_rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Prices 8 % above the classical forecast in festival months, on it otherwise (log ratio + noise); the
    classical forecast's level (a unit) says nothing about the ratio."""
    x = np.column_stack(
        [RNG.integers(1, 7, n).astype(float), RNG.integers(0, 2, n).astype(float), RNG.uniform(500, 5000, n)]
    )
    ratio = 0.08 * x[:, 1] + RNG.normal(0, 0.01, n)
    return x, ratio


def fitted_hybrid() -> TaskModel:
    x, ratio = festival_rows(1200)
    x_learn = learnable(x, FEATURES, ("horizon", "target_festival"))
    params = booster_params(
        {"learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 20, "boost_from_average": False},
        "quantile",
        alpha=0.5,
        seed=1,
    )
    booster = fit_booster(
        x_learn[:1000],
        ratio[:1000],
        x_learn[1000:],
        ratio[1000:],
        params,
        feature_names=FEATURES,
        categorical=[],
        num_boost_round=200,
        early_stopping_rounds=20,
    )
    offsets = {q: fit_quantile_offsets(x, ratio - 0.08 * x[:, 1], q, 0, len(FEATURES)) for q in (0.025, 0.975)}
    return TaskModel(
        "price",
        "quantile",
        booster,
        {0.5: booster, **offsets},  # type: ignore[dict-item]
        unit="yuan/head",
        transform="log_ratio",
        base_index=2,
        offsets_on_point=True,
    )


def test_learnable_hides_every_other_input_and_keeps_the_rest() -> None:
    x, _ = festival_rows(5)
    masked = learnable(x, FEATURES, ("horizon",))
    np.testing.assert_array_equal(masked[:, 0], x[:, 0])
    assert np.isnan(masked[:, 1:]).all()
    assert learnable(x, FEATURES, None) is x


def test_trees_never_use_an_input_they_may_not_learn_from() -> None:
    task = fitted_hybrid()
    x, _ = festival_rows(50)
    contrib = np.asarray(task.booster.predict(x, pred_contrib=True))
    assert np.all(contrib[:, 2] == 0.0)  # the classical forecast's level: the base, never a reason
    assert np.abs(contrib[:, 1]).max() > 0.01  # the festival moves the forecast


def test_the_median_is_the_classical_forecast_corrected_and_the_interval_brackets_it(tmp_path) -> None:
    task = fitted_hybrid()
    x = np.array([[1.0, 1.0, 4000.0], [1.0, 0.0, 4000.0]])
    median = task.point(x)
    assert median[0] == pytest.approx(4000 * math.exp(0.08), rel=0.02)
    assert median[1] == pytest.approx(4000.0, rel=0.02)
    q = task.quantiles(x)
    np.testing.assert_allclose(q[0.5], median)
    assert np.all(q[0.025] < median) and np.all(median < q[0.975])
    np.testing.assert_allclose(q[0.975] / median, q[0.975][1] / median[1])  # offsets ride on the median

    bundle = ModelBundle("market", FeatureEncoder(FEATURES), {"price": task})
    loaded = load_bundle_files(save_bundle(bundle, tmp_path / "b")).tasks["price"]
    assert loaded.offsets_on_point
    np.testing.assert_allclose(loaded.point(x), median)
    for level, values in task.quantiles(x).items():
        np.testing.assert_allclose(loaded.quantiles(x)[level], values)


def test_a_hybrid_answer_is_the_classical_forecast_times_exp_of_its_contributions() -> None:
    task = fitted_hybrid()
    bundle = ModelBundle("market", FeatureEncoder(FEATURES), {"price": task})
    assert is_hybrid(task, FEATURES) and not is_classical(task)
    x, _ = festival_rows(8)
    median = task.point(x)
    explanations = explain_hybrid(bundle, "price", x, [f"h{i}" for i in range(len(x))], "en", Metrics())
    for i, expl in enumerate(explanations):
        total = expl.base_value + sum(r.contribution for r in expl.reasons)
        assert total == pytest.approx(expl.raw_prediction, abs=1e-9)
        assert math.exp(expl.raw_prediction) == pytest.approx(median[i], rel=1e-9)
        assert all(r.feature != "classical_price" for r in expl.reasons)
    festive = next(e for e, row in zip(explanations, x, strict=True) if row[1] == 1)
    assert "higher than the series' own level, trend and season" in festive.sentence


def test_with_the_classical_terms_the_base_is_the_level_and_trend_and_season_lead_the_reasons() -> None:
    task = fitted_hybrid()
    bundle = ModelBundle("market", FeatureEncoder(FEATURES), {"price": task})
    x, _ = festival_rows(4)
    trend, season = 0.03, -0.02
    rows = pd.DataFrame(
        {
            "classical_price_level": np.log(x[:, 2]) - trend - season,
            "classical_price_trend": trend,
            "classical_price_season": season,
        }
    )
    plain = explain_hybrid(bundle, "price", x, ["h"] * 4, "en", Metrics())
    split = explain_hybrid(bundle, "price", x, ["h"] * 4, "en", Metrics(), rows)
    for before, after, median in zip(plain, split, task.point(x), strict=True):
        assert [r.feature for r in after.reasons[:2]] == ["classical_price_trend", "classical_price_season"]
        assert after.base_value == pytest.approx(before.base_value - trend - season)
        total = after.base_value + sum(r.contribution for r in after.reasons)
        assert math.exp(total) == pytest.approx(median, rel=1e-9)


def test_the_classical_terms_add_up_to_the_classical_forecast() -> None:
    from features.classical import seasonal_trend_forecast, seasonal_trend_parts

    months = np.arange(60)
    z = np.log(1000 + 5 * months + 100 * np.sin(months * np.pi / 6))[None, :] + RNG.normal(0, 0.02, (3, 60))
    z[1, 40] = np.nan
    moy = months % 12 + 1
    level, trend, season = seasonal_trend_parts(z, moy, (1, 3, 6))
    np.testing.assert_array_equal(level + trend + season, seasonal_trend_forecast(z, moy, (1, 3, 6)))
    assert np.abs(trend[:, -1, 2]).max() > 0 and np.abs(season[:, -1, :]).max() > 0.05


@pytest.mark.parametrize(("valid_sd", "narrower"), [(0.06, True), (0.2, False), (0.4, False)])
def test_interval_spread_shrinks_only_for_a_calmer_validation_year(valid_sd: float, narrower: bool) -> None:
    """Training errors with spread 0.1 (log ratio); a validation year half as volatile narrows the intervals
    (a factor below 1, chosen on validation), one as or more volatile keeps the training spread: never wider."""
    from training.config import default_config_path, load_config
    from training.engine import offsets_around
    from training.families.base import TaskPlan

    months = pd.period_range("2015-01", "2018-12", freq="M").to_timestamp()
    frame = pd.DataFrame({"target_month": np.repeat(months, 20)})
    n = len(frame)
    valid_rows = frame["target_month"] >= pd.Timestamp("2018-01-01")
    y = RNG.normal(0, 1, n) * np.where(valid_rows, valid_sd, 0.1)
    x = np.column_stack([np.ones(n), RNG.normal(size=n)])
    tr, va = np.flatnonzero(~valid_rows), np.flatnonzero(valid_rows)
    task = TaskPlan("price", "target_price", "quantile", "yuan/head")
    cfg = load_config(default_config_path("market"))
    offsets = offsets_around(np.zeros(n), task, cfg, frame, ["horizon", "noise"], x, y, tr, va, "target_month")

    half_width = float(offsets[0.975].predict(x[:1])[0])
    training_spread = 1.96 * 1.4826 * float(np.median(np.abs(y[tr] - np.median(y[tr]))))
    assert half_width <= training_spread * 1.0001
    assert (half_width < 0.95 * training_spread) == narrower, (half_width, training_spread)
