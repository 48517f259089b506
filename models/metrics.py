"""Forecast and risk metrics for the three kinds of task (values, probabilities, quantile forecasts).

Shared by training (test-time metrics) and serving (live metrics on outcomes that came back), so it
lives on the models floor that both may import."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R² of a value forecast."""
    return {
        "mae": float(mean_absolute_error(y, pred)),
        "rmse": float(np.sqrt(mean_squared_error(y, pred))),
        "r2": float(r2_score(y, pred)),
    }


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean predicted| over equal-count bins, weighted by bin size."""
    order = np.argsort(p, kind="stable")
    total = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            total += len(chunk) * abs(float(y[chunk].mean()) - float(p[chunk].mean()))
    return total / len(y)


def probability_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUROC, AUPR, Brier score, calibration error and log loss of probabilities."""
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    both = len(np.unique(y)) == 2
    return {
        "auroc": float(roc_auc_score(y, p)) if both else float("nan"),
        "aupr": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "logloss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "prevalence": float(y.mean()),
    }


def status_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 of a categorical decision (grazing status)."""
    return {
        "accuracy": float(np.mean(actual == predicted)),
        "macro_f1": float(f1_score(actual, predicted, average="macro")),
    }


def pinball_loss(y: np.ndarray, q_pred: np.ndarray, q: float) -> np.ndarray:
    """Per-row pinball (quantile) loss."""
    diff = y - q_pred
    return np.maximum(q * diff, (q - 1) * diff)


def quantile_metrics(
    y: np.ndarray, median: np.ndarray, quantiles: dict[float, np.ndarray], scale: np.ndarray
) -> dict[str, float]:
    """MASE of the median, scaled pinball loss averaged over quantiles, and interval coverage.

    Args:
        y: actual values.
        median: the point forecast.
        quantiles: quantile level -> forecast.
        scale: per-row in-sample MAE of the seasonal-naive forecast of the row's series (MASE's scale).
    """
    scale = np.where(scale > 0, scale, np.nan)
    out = {"mase": float(np.nanmean(np.abs(y - median) / scale)), "mae": float(np.mean(np.abs(y - median)))}
    if quantiles:
        spl = [np.nanmean(pinball_loss(y, quantiles[q], q) / scale) for q in sorted(quantiles)]
        out["spl"] = float(np.mean(spl))
        for lo, hi in ((0.1, 0.9), (0.025, 0.975), (0.165, 0.835)):
            if lo in quantiles and hi in quantiles:
                inside = (y >= quantiles[lo]) & (y <= quantiles[hi])
                out[f"coverage_{round((hi - lo) * 100)}"] = float(np.mean(inside))
    return out


def is_better(candidate: float, reference: float, direction: str, margin: float = 0.0) -> bool:
    """True if ``candidate`` beats ``reference`` by at least ``margin`` in the given direction."""
    if not np.isfinite(candidate):
        return False
    if not np.isfinite(reference):
        return True
    if direction == "minimize":
        return candidate <= reference - margin
    if direction == "maximize":
        return candidate >= reference + margin
    raise ValueError(f"direction must be minimize or maximize, got {direction!r}")
