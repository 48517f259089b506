"""Candidates beside LightGBM, and the rules that choose among them on the validation slice.

* a regularised logistic GLM for probabilities (L2, its strength picked on validation log loss);
* for a forecast task with a classical base (market): the classical forecast itself (a zero correction)
  with normal quantile offsets per horizon from the robust spread of its recent errors (the window of
  training months, and a multiple of at most 1 of that spread, chosen on validation);
* a guard: a candidate whose predictions are constant, or nearly so, is never chosen; if every candidate
  is, training stops with :class:`ConstantModelError` (nothing is logged or registered).

Every candidate is a :class:`models.linear.LinearBooster` or a LightGBM booster inside the same
:class:`models.bundle.TaskModel`, so it is saved, served and explained the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
from sklearn.linear_model import LogisticRegression

from models.linear import LinearBooster

GLM_STRENGTHS = (0.01, 0.1, 1.0)  # sklearn's C (inverse L2 strength) on standardised inputs
CONSTANT_CV = 0.01  # predictions whose spread is below 1 % of their mean are "nearly constant"
MIN_DISTINCT = 3
MAD_TO_SD = 1.4826  # a normal's standard deviation from its median absolute deviation
# Training months the classical candidate's interval spread is measured on (None: all), chosen on validation:
# early rows have a classical forecast from a short history, wider errors than today's.
CLASSICAL_WINDOWS: tuple[int | None, ...] = (24, 36, 48, None)
# Multiples of that spread, chosen on validation with the window: a market calmer than its training years (the
# sample's prices: 95 % intervals covered every validation and test month) gets narrower intervals. Never wider
# than the training errors say, so a volatile validation year cannot widen them.
SPREAD_FACTORS: tuple[float, ...] = (0.7, 0.8, 0.9, 1.0)


class ConstantModelError(ValueError):
    """Every candidate of a task predicts a constant (or nearly): such a model is refused."""


def design_matrix(model: LinearBooster, x: np.ndarray, vocab_sizes: dict[int, int]) -> np.ndarray:
    """Standardised numeric columns (missing -> 0) and one-hot categorical codes (missing -> all 0)."""
    blocks = []
    for j in range(model.n_features):
        if j in vocab_sizes:
            codes = x[:, j]
            onehot = np.zeros((len(x), vocab_sizes[j]))
            ok = np.isfinite(codes) & (codes >= 0) & (codes < vocab_sizes[j])
            onehot[np.flatnonzero(ok), codes[ok].astype(int)] = 1.0
            blocks.append(onehot)
        else:
            z = (x[:, j] - model.centres[j]) / model.scales[j]
            blocks.append(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0).reshape(-1, 1))
    return np.hstack(blocks) if blocks else np.zeros((len(x), 0))


def fit_logistic_glm(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    vocab_sizes: dict[int, int],
    seed: int,
) -> LinearBooster:
    """L2-regularised logistic regression on the bundle's encoded features, strength chosen on validation."""
    n_features = x_train.shape[1]
    shell = LinearBooster(n_features, link="logit", kind="glm")
    for j in range(n_features):
        if j not in vocab_sizes:
            values = x_train[:, j]
            known = values[np.isfinite(values)]
            centre = float(known.mean()) if len(known) else 0.0
            scale = float(known.std()) if len(known) > 1 else 0.0
            shell.centres[j], shell.scales[j] = centre, scale if scale > 0 else 1.0
    d_train = design_matrix(shell, x_train, vocab_sizes)
    d_valid = design_matrix(shell, x_valid, vocab_sizes)
    best: tuple[float, LogisticRegression] | None = None
    for strength in GLM_STRENGTHS:
        model = LogisticRegression(C=strength, max_iter=2000, random_state=seed)
        model.fit(d_train, y_train.astype(int))
        p = np.clip(model.predict_proba(d_valid)[:, 1], 1e-6, 1 - 1e-6)
        loss = float(-np.mean(y_valid * np.log(p) + (1 - y_valid) * np.log(1 - p)))
        if best is None or loss < best[0]:
            best = (loss, model)
    assert best is not None
    coef = np.asarray(best[1].coef_[0], dtype=float)
    col = 0
    out = LinearBooster(
        n_features,
        intercept=float(best[1].intercept_[0]),
        centres=shell.centres,
        scales=shell.scales,
        link="logit",
        kind="glm",
    )
    for j in range(n_features):
        if j in vocab_sizes:
            out.tables[j] = {c: float(coef[col + c]) for c in range(vocab_sizes[j]) if coef[col + c] != 0}
            col += vocab_sizes[j]
        else:
            out.weights[j] = float(coef[col])
            col += 1
    return out.remember_training_rows(x_train)


def classical_point(n_features: int, x_train: np.ndarray) -> LinearBooster:
    """The classical forecast as it is: a correction of zero on the log-ratio scale, no feature moving it."""
    return LinearBooster(n_features, kind="classical").remember_training_rows(x_train)


def fit_quantile_offsets(
    x_train: np.ndarray,
    y_train: np.ndarray,
    q: float,
    by_index: int | None,
    n_features: int,
    factor: float = 1.0,
) -> LinearBooster:
    """The ``q`` quantile of a normal around 0 (the classical forecast itself) whose spread is ``factor``
    times the robust one (1.4826 x median absolute deviation) of ``y`` (log ratios to the forecast), per code
    of one feature (the horizon: intervals widen with it). Robust, because a price slump in the training
    years would otherwise widen every later interval."""
    z = float(NormalDist().inv_cdf(q)) * factor

    def spread(values: np.ndarray) -> float:
        return float(MAD_TO_SD * np.median(np.abs(values - np.median(values)))) if len(values) else 0.0

    out = LinearBooster(n_features, intercept=z * spread(y_train), kind="classical")
    if by_index is not None:
        codes = x_train[:, by_index]
        table = {int(c): z * spread(y_train[codes == c]) - out.intercept for c in np.unique(codes[np.isfinite(codes)])}
        out.tables[by_index] = table
    return out.remember_training_rows(x_train)


def nearly_constant(values: np.ndarray) -> bool:
    """Fewer than three distinct predictions, or a spread under 1 % of their mean size."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0 or len(np.unique(np.round(v, 6))) < MIN_DISTINCT:
        return True
    return float(v.std()) < CONSTANT_CV * max(float(np.abs(v).mean()), 1e-9)


def choose(scores: dict[str, float], constant: Sequence[str], task: str) -> str:
    """The candidate with the lowest validation score among those that are not constant.

    Raises:
        ConstantModelError: every candidate is constant (or nearly), naming the task and what to try.
    """
    usable = {k: v for k, v in scores.items() if k not in constant and np.isfinite(v)}
    if not usable:
        raise ConstantModelError(
            f"task {task}: every candidate ({', '.join(scores)}) predicts a constant or nearly so on the "
            "validation rows; refusing to register it. Bring more rows, or lower lightgbm.min_data_in_leaf "
            "and num_leaves in the experiment YAML."
        )
    return min(usable, key=lambda k: usable[k])
