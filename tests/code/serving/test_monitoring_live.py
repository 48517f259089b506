"""Live metrics on joined forecasts: the training metric functions, bootstrap intervals, test-reference verdicts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models.metrics import probability_metrics, quantile_metrics
from serving.monitoring.live import direction_of, live_metrics, worse_than_test

RNG = np.random.default_rng(5)


def dispute_log(n: int = 300, version: str = "1", period: str = "2020-01-01", shift: float = 0.0) -> pd.DataFrame:
    p = RNG.uniform(0.02, 0.5, n)
    y = (RNG.uniform(size=n) < np.clip(p + shift, 0, 1)).astype(float)
    return (
        pd.DataFrame(
            {
                "id": np.arange(n),
                "family": "dispute",
                "model_version": version,
                "target_period": pd.Timestamp(period),
                "prediction": [
                    json.dumps({"any_dispute": {"target": "any_dispute", "kind": "binary", "point": v}}) for v in p
                ],
                "outcome": [json.dumps({"any_dispute": v}) for v in y],
            }
        ),
        p,
        y,
    )


def test_dispute_live_metrics_equal_the_training_functions_with_an_interval_around_them() -> None:
    log, p, y = dispute_log()
    table = live_metrics(log, resamples=200).set_index("metric")
    expected = probability_metrics(y, p)
    assert table.at["brier", "value"] == pytest.approx(expected["brier"])
    assert table.at["auroc", "value"] == pytest.approx(expected["auroc"])
    assert table.at["calibration_in_the_large", "value"] == pytest.approx(p.mean() - y.mean())
    for metric in ("brier", "auroc"):
        assert table.at[metric, "low"] < table.at[metric, "value"] < table.at[metric, "high"]
    assert (table["n"] == 300).all()
    again = live_metrics(log, resamples=200).set_index("metric")
    assert again.at["brier", "low"] == table.at["brier", "low"]  # seeded: the same rows, the same interval


def test_pending_rows_are_ignored_and_versions_scored_apart() -> None:
    first, _, _ = dispute_log(version="1")
    second, p, y = dispute_log(version="2")
    second.loc[:99, "outcome"] = None  # outcomes still missing for a third of version 2's rows
    table = live_metrics(pd.concat([first, second.assign(id=second["id"] + 1000)]), resamples=50)
    brier = table[table["metric"] == "brier"].set_index("model_version")
    assert brier.at["2", "n"] == 200
    assert brier.at["2", "value"] == pytest.approx(probability_metrics(y[100:], p[100:])["brier"])


def test_market_rows_give_task_prefixed_and_averaged_metrics_like_the_test_metrics() -> None:
    n = 120
    rows = []
    truth = {"head_sold": RNG.poisson(50, n).astype(float), "price": RNG.normal(4000, 300, n)}
    for i in range(n):
        prediction = {}
        for task, target in (("head_sold", "target_head_sold"), ("price", "target_price")):
            centre = truth[task][i] * RNG.uniform(0.9, 1.1)
            quantiles = {"q025": centre * 0.8, "q500": centre, "q975": centre * 1.2}
            prediction[task] = {
                "target": target,
                "kind": "quantile",
                "point": centre,
                "quantiles": quantiles,
                "scale": 5.0 if task == "head_sold" else 200.0,
            }
        outcome = {"target_head_sold": truth["head_sold"][i], "target_price": truth["price"][i]}
        rows.append(
            {
                "id": i,
                "family": "market",
                "model_version": "3",
                "target_period": pd.Timestamp("2020-02-01"),
                "prediction": json.dumps(prediction),
                "outcome": json.dumps(outcome),
            }
        )
    table = live_metrics(pd.DataFrame(rows), resamples=50).set_index("metric")
    assert {"spl", "head_sold_spl", "price_spl", "price_coverage_95", "mase"} <= set(table.index)
    assert table.at["spl", "value"] == pytest.approx(
        (table.at["head_sold_spl", "value"] + table.at["price_spl", "value"]) / 2
    )
    preds = [json.loads(r["prediction"])["price"] for r in rows]
    expected = quantile_metrics(
        truth["price"],
        np.array([p["point"] for p in preds]),
        {q: np.array([p["quantiles"][k] for p in preds]) for q, k in ((0.025, "q025"), (0.5, "q500"), (0.975, "q975"))},
        np.full(n, 200.0),
    )
    assert table.at["price_spl", "value"] == pytest.approx(expected["spl"])


def test_a_live_metric_is_worse_only_when_its_whole_interval_is() -> None:
    assert direction_of("brier") == "minimize" and direction_of("price_spl") == "minimize"
    assert direction_of("auroc") == "maximize" and direction_of("coverage_80") is None
    assert worse_than_test("brier", 0.07, 0.09, 0.06)
    assert not worse_than_test("brier", 0.05, 0.09, 0.06)  # the test value inside the interval
    assert not worse_than_test("brier", 0.065, 0.09, 0.06, tolerance=0.1)  # within the tolerance
    assert worse_than_test("auroc", 0.6, 0.7, 0.8) and not worse_than_test("auroc", 0.7, 0.85, 0.8)
    assert not worse_than_test("coverage_80", 0.1, 0.2, 0.8) and not worse_than_test("brier", 0.1, 0.2, None)


def test_a_worse_month_is_told_from_a_good_one() -> None:
    good, p, _ = dispute_log(n=400)
    bad, _, _ = dispute_log(n=400, period="2020-02-01", shift=0.3)  # disputes far above the forecasts
    big = np.tile(p, 20)  # the test-time Brier of these forecasts when they are calibrated
    reference = probability_metrics((RNG.uniform(size=len(big)) < big).astype(float), big)["brier"]
    table = live_metrics(pd.concat([good, bad.assign(id=bad["id"] + 1000)]), resamples=200)
    brier = table[table["metric"] == "brier"].set_index("target_period")
    assert not worse_than_test("brier", brier.iloc[0]["low"], brier.iloc[0]["high"], reference)
    assert worse_than_test("brier", brier.iloc[1]["low"], brier.iloc[1]["high"], reference)


def test_the_bootstrap_s_lean_metrics_equal_the_training_functions() -> None:
    from serving.monitoring.live import lean_task_metrics

    p = np.round(RNG.uniform(0, 1, 500), 2)  # ties, as calibrated probabilities have
    y = (RNG.uniform(size=500) < p).astype(float)
    lean = lean_task_metrics({"kind": "binary", "y": y, "point": p, "quantiles": {}, "scale": np.ones(500)})
    full = probability_metrics(y, p)
    for metric in ("brier", "auroc", "ece"):
        assert lean[metric] == pytest.approx(full[metric], rel=1e-9)
