"""Candidates beside LightGBM, and the rules that choose among them on the validation slice.

* a regularised logistic GLM for probabilities (L2, its strength picked on validation log loss);
* for a forecast task with a classical base (market): the classical forecast itself (a zero correction)
  with linear quantile offsets per horizon, conformally shifted like the boosters';
* a guard: a candidate whose predictions are constant, or nearly so, is never chosen; if every candidate
  is, training stops with :class:`ConstantModelError` (nothing is logged or registered).

Every candidate is a :class:`models.linear.LinearBooster` or a LightGBM booster inside the same
:class:`models.bundle.TaskModel`, so it is saved, served and explained the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from models.linear import LinearBooster

GLM_STRENGTHS = (0.01, 0.1, 1.0)  # sklearn's C (inverse L2 strength) on standardised inputs
CONSTANT_CV = 0.01  # predictions whose spread is below 1 % of their mean are "nearly constant"
MIN_DISTINCT = 3


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
            col = x_train[:, j]
            known = col[np.isfinite(col)]
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
    coef, col = best[1].coef_[0], 0
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
    x_train: np.ndarray, y_train: np.ndarray, q: float, by_index: int | None, n_features: int
) -> LinearBooster:
    """The ``q`` quantile of ``y`` (a log ratio to the classical forecast) overall, plus a per-code offset
    by one feature (the horizon: intervals widen with it)."""
    out = LinearBooster(n_features, intercept=float(np.quantile(y_train, q)), kind="classical")
    if by_index is not None:
        codes = x_train[:, by_index]
        for code in np.unique(codes[np.isfinite(codes)]):
            here = codes == code
            out.tables[by_index] = {
                **out.tables.get(by_index, {}),
                int(code): float(np.quantile(y_train[here], q)) - out.intercept,
            }
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
