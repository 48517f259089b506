"""The GLM-trees hybrid through ``train_family`` on the tiny county (issue 13 item 6): it competes on
validation beside LightGBM and the GLM when the YAML names it, and a bundle that keeps it predicts and
explains as Platt(GLM log-odds + trees) after a save and load."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from models.bundle import load_bundle_files, save_bundle
from models.linear import GlmTreeBooster
from training.engine import train_family


def test_the_hybrid_competes_on_validation_when_named(tiny_feature_sets: dict[str, Any], fast_config: Any) -> None:
    result = train_family(
        tiny_feature_sets["dispute"], fast_config("dispute", candidates=["lightgbm", "glm", "hybrid"])
    )
    selection = result.bundle.metadata["candidates"]["any_dispute"]
    assert set(selection["valid_scores"]) == {"lightgbm", "glm", "hybrid"}
    usable = {k: v for k, v in selection["valid_scores"].items() if k not in selection["constant"]}
    assert selection["chosen"] == min(usable, key=lambda k: usable[k])


def test_a_kept_hybrid_serves_calibrated_glm_plus_trees_after_save_and_load(
    tiny_feature_sets: dict[str, Any], fast_config: Any, tmp_path: Any
) -> None:
    # Without the recent level, so the test rows are predicted by the bundle alone (not rolled month by month).
    result = train_family(
        tiny_feature_sets["dispute"],
        fast_config("dispute", candidates=["hybrid"]).model_copy(update={"recent_level_months": None}),
    )
    task = load_bundle_files(save_bundle(result.bundle, tmp_path / "b")).tasks["any_dispute"]
    assert isinstance(task.booster, GlmTreeBooster)
    x = result.x_test
    assert x is not None
    a, b = task.platt()
    margin = task.booster.glm.predict(x, raw_score=True) + task.booster.trees.predict(x, raw_score=True)
    np.testing.assert_allclose(task.point(x), expit(a * margin + b), rtol=1e-10)
    np.testing.assert_allclose(result.test_preds["p_any_dispute"], task.point(x), rtol=1e-12)
    contrib = task.booster.predict(x, pred_contrib=True)
    np.testing.assert_allclose(contrib.sum(axis=1), margin, atol=1e-9)
