"""Fitting LightGBM boosters and their calibration; the same code for every family."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import LogisticRegression

from models.bundle import TaskKind

OBJECTIVES: dict[str, str] = {"regression": "regression", "binary": "binary", "quantile": "quantile"}


def booster_params(
    base: dict[str, Any],
    kind: TaskKind,
    *,
    alpha: float | None = None,
    seed: int,
    monotone: Sequence[int] | None = None,
) -> dict[str, Any]:
    """LightGBM parameters for one task: the experiment's params plus objective, seed and constraints."""
    params = {
        "verbosity": -1,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        **base,
        "objective": OBJECTIVES[kind],
        "seed": seed,
    }
    if kind == "quantile":
        params["alpha"] = 0.5 if alpha is None else alpha
    # LightGBM refuses monotone constraints for quantile objectives; intervals are descriptive, the
    # point model (which decisions use) keeps the constraints.
    if monotone is not None and any(monotone) and kind != "quantile":
        params["monotone_constraints"] = list(monotone)
        params.setdefault("monotone_constraints_method", "advanced")
    return params


def fit_booster(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    params: dict[str, Any],
    *,
    feature_names: list[str],
    categorical: list[int],
    num_boost_round: int,
    early_stopping_rounds: int,
    callbacks: Sequence[Callable[..., Any]] = (),
    init_score: tuple[np.ndarray, np.ndarray] | None = None,
) -> lgb.Booster:
    """Train with early stopping on the validation slice; returns the booster at its best iteration.

    ``init_score`` (train, validation): raw scores to boost from, e.g. a GLM's log-odds; the booster then
    holds only the correction, to be added to them when predicting."""
    start_train, start_valid = init_score if init_score is not None else (None, None)
    train = lgb.Dataset(
        x_train,
        y_train,
        init_score=start_train,
        feature_name=feature_names,
        categorical_feature=categorical,
        free_raw_data=False,
    )
    valid = lgb.Dataset(x_valid, y_valid, init_score=start_valid, reference=train)
    booster = lgb.train(
        params,
        train,
        num_boost_round=num_boost_round,
        valid_sets=[valid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False), *callbacks],
    )
    # Keep only the trees up to the best iteration, so every later predict/contrib call agrees.
    best = booster.best_iteration or booster.current_iteration()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


def fit_platt(raw_valid: np.ndarray, y_valid: np.ndarray) -> tuple[float, float]:
    """Platt scaling on the validation slice: p = sigmoid(a * margin + b). Monotone, so rankings are kept."""
    model = LogisticRegression(C=1e6, max_iter=1000)
    model.fit(raw_valid.reshape(-1, 1), y_valid.astype(int))
    return float(model.coef_[0, 0]), float(model.intercept_[0])
