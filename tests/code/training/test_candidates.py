"""Candidates beside LightGBM (training/candidates.py, models/linear.py): fitted, chosen, refused, saved."""

from __future__ import annotations

import numpy as np
import pytest

from models.linear import LinearBooster
from training.candidates import (
    ConstantModelError,
    choose,
    fit_logistic_glm,
    fit_quantile_offsets,
    nearly_constant,
)
from training.engine import scale_params_to_rows

RNG = np.random.default_rng(3)


def logistic_rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two numeric features (one with gaps) and a three-level category; the outcome rises with x0."""
    x = np.column_stack([RNG.normal(size=n), RNG.normal(size=n), RNG.integers(0, 3, n).astype(float)])
    x[RNG.random(n) < 0.1, 1] = np.nan
    logit = -1.0 + 1.5 * x[:, 0] + 0.8 * (x[:, 2] == 2)
    y = (RNG.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return x, y


def test_glm_contributions_add_up_to_its_raw_score_and_learn_the_direction() -> None:
    x, y = logistic_rows(600)
    glm = fit_logistic_glm(x[:400], y[:400], x[400:], y[400:], {2: 3}, seed=1)
    contrib = glm.predict(x[400:], pred_contrib=True)
    assert contrib.shape == (200, 4)
    np.testing.assert_allclose(contrib.sum(axis=1), glm.predict(x[400:], raw_score=True), atol=1e-12)
    assert np.ptp(contrib[:, -1]) == 0  # one base value for every row
    assert glm.weights[0] > 0.5 and glm.tables[2][2] > glm.tables[2][0]
    p = glm.predict(x[400:])
    assert np.all((p > 0) & (p < 1))


def test_linear_model_survives_a_save_and_load_exactly(tmp_path) -> None:
    x, y = logistic_rows(300)
    glm = fit_logistic_glm(x[:200], y[:200], x[200:], y[200:], {2: 3}, seed=1)
    glm.save_model(tmp_path / "m.txt")
    again = LinearBooster.from_string((tmp_path / "m.txt").read_text())
    np.testing.assert_array_equal(again.predict(x, pred_contrib=True), glm.predict(x, pred_contrib=True))


def test_quantile_offsets_widen_with_the_horizon() -> None:
    h = np.repeat([1.0, 6.0], 500)
    y = RNG.normal(0, 1, 1000) * np.where(h == 1, 0.05, 0.3)
    x = np.column_stack([h, RNG.normal(size=1000)])
    lo, hi = (fit_quantile_offsets(x, y, q, 0, 2) for q in (0.025, 0.975))
    width = hi.predict(np.array([[1.0, 0.0], [6.0, 0.0]])) - lo.predict(np.array([[1.0, 0.0], [6.0, 0.0]]))
    assert width[1] > 3 * width[0]


@pytest.mark.parametrize(
    ("values", "constant"),
    [
        ([0.1] * 50, True),
        ([0.1, 0.2] * 25, True),
        (list(np.linspace(0.10, 0.1005, 50)), True),
        ([0.05, 0.1, 0.3], False),
    ],
    ids=["one-value", "two-values", "tiny-spread", "spread"],
)
def test_nearly_constant_predictions_are_recognised(values: list[float], constant: bool) -> None:
    assert nearly_constant(np.array(values)) is constant


def test_a_constant_candidate_is_never_chosen_and_all_constant_is_refused() -> None:
    assert choose({"lightgbm": 0.10, "glm": 0.12}, ["lightgbm"], "any_dispute") == "glm"
    with pytest.raises(ConstantModelError, match=r"task cms: every candidate \(lightgbm, glm\).*min_data_in_leaf"):
        choose({"lightgbm": 0.10, "glm": 0.12}, ["lightgbm", "glm"], "cms")


@pytest.mark.parametrize(
    ("rows", "leaf", "leaves"), [(120, 6, 4), (2_000, 80, 4), (30_000, 80, 4)], ids=["200-people", "mid", "large"]
)
def test_lightgbm_limits_scale_with_the_rows(rows: int, leaf: int, leaves: int) -> None:
    """The issue's case: min_data_in_leaf 80 on 120 training rows allows one split at most."""
    params = scale_params_to_rows({"min_data_in_leaf": 80, "num_leaves": 4, "learning_rate": 0.03}, rows)
    assert (params["min_data_in_leaf"], params["num_leaves"]) == (leaf, leaves)
    assert params["learning_rate"] == 0.03


def test_a_cut_short_linear_model_file_is_refused_before_loading(tmp_path) -> None:
    from models.bundle import require_complete_model_file

    x, y = logistic_rows(300)
    text = fit_logistic_glm(x[:200], y[:200], x[200:], y[200:], {2: 3}, seed=1).model_to_string()
    (tmp_path / "m.txt").write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match=r"m\.txt is incomplete"):
        require_complete_model_file(tmp_path / "m.txt")


def test_classical_candidate_serves_the_forecast_feature_itself_inside_its_interval() -> None:
    """Market's classical candidate in a TaskModel: the median is the classical forecast (a feature), the
    quantiles bracket it and widen with the horizon, the explanation adds up (to zero: nothing moved it)."""
    from models.bundle import TaskModel
    from training.candidates import classical_point

    h = np.repeat([1.0, 6.0], 400)
    errors = RNG.normal(0, 1, 800) * np.where(h == 1, 0.02, 0.1)
    x_train = np.column_stack([h, np.full(800, 1000.0)])
    quantiles = {q: fit_quantile_offsets(x_train, errors, q, 0, 2) for q in (0.025, 0.975)}
    point = classical_point(2, x_train)
    task = TaskModel("price", "quantile", point, {0.5: point, **quantiles}, transform="log_ratio", base_index=1)  # type: ignore[arg-type]
    x = np.array([[1.0, 4000.0], [6.0, 4200.0]])
    np.testing.assert_allclose(task.point(x), [4000.0, 4200.0])
    q = task.quantiles(x)
    assert np.all(q[0.025] < q[0.5]) and np.all(q[0.5] < q[0.975])
    assert (q[0.975][1] - q[0.025][1]) / 4200 > 3 * (q[0.975][0] - q[0.025][0]) / 4000
    contrib = point.predict(x, pred_contrib=True)
    np.testing.assert_allclose(contrib.sum(axis=1), task.raw(x))
