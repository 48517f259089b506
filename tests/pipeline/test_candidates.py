"""Candidates and peers through ``train_family`` on the tiny county (session fixtures; issue 13)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from features import FeatureSet
from training.candidates import ConstantModelError
from training.engine import train_family


def test_market_scores_every_peer_and_seasonal_naive_on_the_models_rows(trained_results: dict[str, Any]) -> None:
    result = trained_results["market"]
    assert {"seasonal_naive", "mstl", "autoets", "autotheta"} <= set(result.baselines)
    for metrics in (result.metrics, *result.baselines.values()):
        assert np.isfinite([metrics["mase"], metrics["spl"]]).all()
        assert {f"mase_h{h}" for h in range(1, 7)} <= set(metrics)  # per horizon, for model and peers alike
        for h in range(1, 7):  # and per task: the two tasks' figures average to the horizon's
            for m in ("mase", "spl"):
                per_task = [metrics[f"{t}_{m}_h{h}"] for t in ("head_sold", "price")]
                assert metrics[f"{m}_h{h}"] == pytest.approx(np.mean(per_task))


@pytest.mark.parametrize(
    ("family", "allowed"),
    [
        ("market", {"lightgbm", "classical"}),
        ("dispute", {"lightgbm", "glm", "hybrid"}),
        ("disease", {"lightgbm", "glm"}),
    ],
)
def test_each_task_keeps_the_candidate_with_the_best_validation_score(
    trained_results: dict[str, Any], family: str, allowed: set[str]
) -> None:
    selections = trained_results[family].bundle.metadata["candidates"]
    assert set(selections) == set(trained_results[family].bundle.tasks)
    for selection in selections.values():
        scores = {k: v for k, v in selection["valid_scores"].items() if k not in selection["constant"]}
        assert set(selection["valid_scores"]) == allowed
        assert selection["chosen"] == min(scores, key=lambda k: scores[k])


def test_inputs_that_carry_no_signal_are_refused_with_a_clear_message(
    tiny_feature_sets: dict[str, FeatureSet], fast_config: Any
) -> None:
    """Every candidate predicts a constant when no input varies: training stops before anything is logged."""
    fs = tiny_feature_sets["dispute"]
    frame = fs.frame.copy()
    for feature in fs.features:
        frame[feature] = frame[feature].iloc[0]
    flat = dataclasses.replace(fs, frame=frame)
    with pytest.raises(ConstantModelError, match=r"task any_dispute: every candidate .* constant"):
        train_family(flat, fast_config("dispute"))
