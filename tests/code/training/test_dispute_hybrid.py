"""The GLM-trees hybrid candidate (issue 13 item 6): LightGBM boosted from a logistic GLM's log-odds.

Served probability = Platt(GLM log-odds + trees' sum); its explanation = the GLM's terms + the trees' TreeSHAP,
adding up to the prediction in log-odds and, shown as today, in percentage points; saved and loaded exactly;
and the GLM's linear term carries risk past the training range where trees alone stay flat.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from models.bundle import FeatureEncoder, ModelBundle, TaskModel, load_bundle_files, require_complete_model_file
from models.bundle import save_bundle as save
from models.linear import GlmTreeBooster
from serving.scoring.common import percentage_points
from training.candidates import fit_logistic_glm
from training.fit import booster_params, fit_booster, fit_platt

RNG = np.random.default_rng(11)
FEATURES = ["snow", "a", "b", "township"]


def rows(n: int, snow_high: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Risk rises linearly with snow and with an interaction a x b a GLM cannot draw; a category."""
    snow = RNG.uniform(-1.0, snow_high, n)
    a, b = RNG.normal(size=n), RNG.normal(size=n)
    township = RNG.integers(0, 3, n).astype(float)
    logit = -2.0 + 1.2 * snow + 1.5 * (a > 0) * (b > 0) + 0.4 * (township == 1)
    y = (RNG.random(n) < expit(logit)).astype(float)
    return np.column_stack([snow, a, b, township]), y


def fit_both(x: np.ndarray, y: np.ndarray) -> tuple[object, GlmTreeBooster]:
    tr, va = np.arange(0, 3000), np.arange(3000, len(x))
    params = booster_params({"num_leaves": 7, "learning_rate": 0.1, "min_data_in_leaf": 40}, "binary", seed=1)
    kw = {"feature_names": FEATURES, "categorical": [3], "num_boost_round": 300, "early_stopping_rounds": 30}
    trees_alone = fit_booster(x[tr], y[tr], x[va], y[va], params, **kw)  # type: ignore[arg-type]
    glm = fit_logistic_glm(x[tr], y[tr], x[va], y[va], {3: 3}, seed=1)
    start = glm.predict(x, raw_score=True)
    trees = fit_booster(x[tr], y[tr], x[va], y[va], params, init_score=(start[tr], start[va]), **kw)  # type: ignore[arg-type]
    return trees_alone, GlmTreeBooster(glm, trees)


@pytest.fixture(scope="module")
def fitted() -> tuple[np.ndarray, np.ndarray, object, GlmTreeBooster, TaskModel]:
    x, y = rows(4500)
    trees_alone, hybrid = fit_both(x, y)
    calibration = fit_platt(hybrid.predict(x[3000:], raw_score=True), y[3000:])
    task = TaskModel("any_dispute", "binary", hybrid, calibration=calibration, unit="probability")  # type: ignore[arg-type]
    return x, y, trees_alone, hybrid, task


def test_served_probability_is_the_calibrated_sigmoid_of_glm_log_odds_plus_the_trees(fitted) -> None:
    x, _, _, hybrid, task = fitted
    a, b = task.calibration
    glm_raw = hybrid.glm.predict(x, raw_score=True)
    tree_sum = np.asarray(hybrid.trees.predict(x, raw_score=True))
    assert hybrid.trees.num_trees() > 0 and np.ptp(tree_sum) > 0.05  # the trees learned a correction
    np.testing.assert_allclose(task.point(x), expit(a * (glm_raw + tree_sum) + b), rtol=1e-12)
    np.testing.assert_allclose(hybrid.predict(x), expit(glm_raw + tree_sum), rtol=1e-12)


def test_contributions_add_up_in_log_odds_and_in_percentage_points(fitted) -> None:
    x, _, _, hybrid, task = fitted
    contrib = hybrid.predict(x[:200], pred_contrib=True)
    assert contrib.shape == (200, len(FEATURES) + 1)
    raw = task.raw(x[:200])
    np.testing.assert_allclose(contrib.sum(axis=1), raw, atol=1e-9)
    # feature by feature: the GLM's term plus the trees' TreeSHAP value
    parts = hybrid.glm.predict(x[:200], pred_contrib=True) + hybrid.trees.predict(x[:200], pred_contrib=True)
    np.testing.assert_allclose(contrib, parts, atol=1e-12)
    a, b = task.calibration
    base = float(contrib[0, -1])
    p, p0 = task.point(x[:200]), expit(a * base + b)
    for i in range(0, 200, 37):  # the dispute display: points add up to the move from the average risk
        points = percentage_points(list(contrib[i, :-1]), float(raw[i]), base, task.calibration)
        assert sum(points) == pytest.approx(100 * (p[i] - p0), abs=1e-9)


def test_the_glm_carries_risk_past_the_training_range_where_trees_alone_stay_flat(fitted) -> None:
    """The 2024 case: a winter snowier than any in training."""
    _, _, trees_alone, hybrid, _ = fitted
    probe = np.array([[1.0, 0.0, 0.0, 0.0], [2.5, 0.0, 0.0, 0.0]])  # training snow ends at 1
    alone = np.asarray(trees_alone.predict(probe, raw_score=True))
    assert alone[1] == pytest.approx(alone[0])
    mixed = hybrid.predict(probe, raw_score=True)
    assert mixed[1] - mixed[0] > 1.0  # about 1.2 per unit of snow x 1.5 units, on the log-odds scale


def test_the_hybrid_beats_the_glm_where_an_interaction_matters(fitted) -> None:
    hybrid = fitted[3]
    x_new, y_new = rows(4000)
    glm_p, hybrid_p = hybrid.glm.predict(x_new), hybrid.predict(x_new)
    assert np.mean((hybrid_p - y_new) ** 2) < np.mean((glm_p - y_new) ** 2) - 0.002


def test_a_bundle_with_the_hybrid_survives_save_and_load_exactly(fitted, tmp_path) -> None:
    x, _, _, _, task = fitted
    encoder = FeatureEncoder(FEATURES, {})
    bundle = ModelBundle("dispute", encoder, {"any_dispute": task}, units={"any_dispute": "probability"})
    save(bundle, tmp_path / "b")
    again = load_bundle_files(tmp_path / "b").tasks["any_dispute"]
    assert isinstance(again.booster, GlmTreeBooster)
    np.testing.assert_array_equal(again.point(x), task.point(x))
    np.testing.assert_array_equal(
        again.booster.predict(x, pred_contrib=True), task.booster.predict(x, pred_contrib=True)
    )


def test_a_cut_short_hybrid_file_is_refused_before_lightgbm_reads_it(fitted, tmp_path) -> None:
    _, _, _, hybrid, _ = fitted
    text = hybrid.model_to_string()
    cut = text.replace("end of trees", "").replace("pandas_categorical", "")  # the trees' text cut short
    for name, broken in (("half.txt", text[: len(text) // 2]), ("trees.txt", cut)):
        (tmp_path / name).write_text(broken)
        with pytest.raises(ValueError, match=rf"{name.replace('.', '[.]')} is incomplete"):
            require_complete_model_file(tmp_path / name)
