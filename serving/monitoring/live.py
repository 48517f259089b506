"""Live metrics: how each version did on the outcomes that came back, month by month, with bootstrap intervals.

The same functions as the test metrics at training (``models.metrics``): MAE and 80 % coverage of the grazing
yield; MASE, scaled pinball loss and interval coverage of the market's quantile forecasts (with the series'
MASE scale kept in the log); Brier, AUROC, ECE of dispute probabilities, plus calibration-in-the-large (mean
predicted minus observed rate). A family with several tasks prefixes each metric with the task (``price_spl``)
and averages the scale-free ones, as the test metrics do. Each value has a 95 % percentile-bootstrap interval
over the month's rows (seeded: the same rows give the same interval).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from models.metrics import expected_calibration_error, probability_metrics, quantile_metrics, regression_metrics

MINIMIZE = {"mae", "rmse", "brier", "ece", "logloss", "spl", "mase"}
MAXIMIZE = {"auroc", "aupr", "r2"}
SHOWN = {
    "binary": ("brier", "auroc", "ece", "calibration_in_the_large"),
    "regression": ("mae", "rmse", "coverage_80"),
    "quantile": ("spl", "mase", "mae", "coverage_95", "coverage_67", "coverage_80"),
}
BOOTSTRAP_SEED = 11


def direction_of(metric: str) -> str | None:
    """``minimize``, ``maximize`` or None (coverage and calibration: closer to their target is better)."""
    base = metric.rsplit("_", 1)[-1] if metric not in MINIMIZE | MAXIMIZE else metric
    for name in (metric, base):
        if name in MINIMIZE:
            return "minimize"
        if name in MAXIMIZE:
            return "maximize"
    return None


def label_level(label: str) -> float:
    """``q025`` -> 0.025."""
    return int(label[1:]) / 1000


def task_arrays(predictions: list[dict[str, Any]], outcomes: list[dict[str, Any]], task: str) -> dict[str, Any]:
    """The rows of one task as arrays: y, point, quantiles (level -> values), scale and the task's kind."""
    first = predictions[0][task]
    target = first["target"]
    y = np.array([o.get(target, np.nan) for o in outcomes], dtype=float)
    point = np.array([p[task].get("point", np.nan) for p in predictions], dtype=float)
    labels = list(first.get("quantiles", {}))
    quantiles = {
        label_level(q): np.array([p[task]["quantiles"].get(q, np.nan) for p in predictions], dtype=float)
        for q in labels
    }
    scale = np.array([p[task].get("scale", np.nan) for p in predictions], dtype=float)
    keep = np.isfinite(y) & np.isfinite(point)
    return {
        "kind": first["kind"],
        "y": y[keep],
        "point": point[keep],
        "quantiles": {q: v[keep] for q, v in quantiles.items()},
        "scale": scale[keep],
    }


def task_metrics(arrays: Mapping[str, Any]) -> dict[str, float]:
    """The training metrics of one task's rows (only those the kind has)."""
    y, point, kind = arrays["y"], arrays["point"], arrays["kind"]
    if kind == "binary":
        out = probability_metrics(y, point)
        out["calibration_in_the_large"] = float(np.mean(point) - np.mean(y))
        return out
    if kind == "regression":
        out = regression_metrics(y, point) if len(y) > 1 else {"mae": float(np.mean(np.abs(y - point)))}
        quantiles = arrays["quantiles"]
        if 0.1 in quantiles and 0.9 in quantiles:
            out["coverage_80"] = float(np.mean((y >= quantiles[0.1]) & (y <= quantiles[0.9])))
        return out
    return quantile_metrics(y, point, arrays["quantiles"], arrays["scale"])


def auroc_by_ranks(y: np.ndarray, p: np.ndarray) -> float:
    """AUROC as the Mann-Whitney statistic (ties count a half): equal to scikit-learn's, without its checks."""
    positives = y == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = stats.rankdata(p)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def lean_task_metrics(arrays: Mapping[str, Any]) -> dict[str, float]:
    """The shown metrics of one task by the same definitions, for the bootstrap's many resamples: scikit-learn's
    input checks would cost most of the time (Brier, AUROC and MAE/RMSE in numpy; ECE and the quantile metrics
    are ``models.metrics``' own)."""
    y, point, kind = arrays["y"], arrays["point"], arrays["kind"]
    if kind == "binary":
        p = np.clip(point, 1e-6, 1 - 1e-6)
        return {
            "brier": float(np.mean((p - y) ** 2)),
            "auroc": auroc_by_ranks(y, p),
            "ece": expected_calibration_error(y, p),
            "calibration_in_the_large": float(np.mean(point) - np.mean(y)),
        }
    if kind == "regression":
        error = y - point
        out = {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2)))}
        quantiles = arrays["quantiles"]
        if 0.1 in quantiles and 0.9 in quantiles:
            out["coverage_80"] = float(np.mean((y >= quantiles[0.1]) & (y <= quantiles[0.9])))
        return out
    return quantile_metrics(y, point, arrays["quantiles"], arrays["scale"])


def rows_metrics(
    tasks: Mapping[str, Mapping[str, Any]],
    per_task_metrics: Callable[[Mapping[str, Any]], dict[str, float]] | None = None,
) -> dict[str, float]:
    """Every task's metrics, named as the test metrics are (task-prefixed, and averaged, when several)."""
    per_task = {name: (per_task_metrics or task_metrics)(arrays) for name, arrays in tasks.items()}
    if len(per_task) == 1:
        return dict(next(iter(per_task.values())))
    out = {f"{t}_{k}": v for t, m in per_task.items() for k, v in m.items()}
    shared = set.intersection(*(set(m) for m in per_task.values())) - {"mae", "rmse"}
    out.update({k: float(np.nanmean([m[k] for m in per_task.values()])) for k in sorted(shared)})
    return out


def _subset(tasks: Mapping[str, Mapping[str, Any]], index: np.ndarray) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "kind": a["kind"],
            "y": a["y"][index],
            "point": a["point"][index],
            "quantiles": {q: v[index] for q, v in a["quantiles"].items()},
            "scale": a["scale"][index],
        }
        for name, a in tasks.items()
    }


def bootstrap(
    tasks: Mapping[str, Mapping[str, Any]],
    resamples: int,
    seed: int = BOOTSTRAP_SEED,
    statistic: Callable[[Mapping[str, Mapping[str, Any]]], dict[str, float]] | None = None,
) -> dict[str, tuple[float, float]]:
    """95 % percentile-bootstrap interval of every metric, resampling the rows (tasks share the rows)."""
    n = len(next(iter(tasks.values()))["y"])
    if n < 2:
        return {}
    statistic = statistic or (lambda t: rows_metrics(t, lean_task_metrics))
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(resamples):
        index = rng.integers(0, n, n)
        for name, value in statistic(_subset(tasks, index)).items():
            draws.setdefault(name, []).append(value)
    out = {}
    for name, values in draws.items():
        finite = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
        if len(finite) >= resamples // 2:
            low, high = np.quantile(finite, [0.025, 0.975])
            out[name] = (float(low), float(high))
    return out


def shown_metrics(tasks: Mapping[str, Mapping[str, Any]], metrics: Mapping[str, float]) -> list[str]:
    """The metrics worth showing, in order: each kind's headline ones (task-prefixed when several tasks)."""
    names: list[str] = []
    several = len(tasks) > 1
    for task, arrays in tasks.items():
        for metric in SHOWN[arrays["kind"]]:
            name = f"{task}_{metric}" if several else metric
            if name in metrics and name not in names:
                names.append(name)
    if several:
        names = [m for m in ("spl", "mase", "coverage_95") if m in metrics] + names
    return names


def group_metrics(rows: pd.DataFrame, resamples: int) -> list[dict[str, Any]]:
    """Live metrics of one group of joined log rows (one family, version and target period)."""
    predictions = [json.loads(p) for p in rows["prediction"]]
    outcomes = [json.loads(o) for o in rows["outcome"]]
    tasks = {task: task_arrays(predictions, outcomes, task) for task in predictions[0]}
    tasks = {t: a for t, a in tasks.items() if len(a["y"])}
    if not tasks:
        return []
    n = len(next(iter(tasks.values()))["y"])
    if any(len(a["y"]) != n for a in tasks.values()):  # a task without its outcome on some rows: score apart
        return [m for t, a in tasks.items() for m in _one(t, {t: a}, resamples)]
    return _one(None, tasks, resamples)


def _one(task: str | None, tasks: Mapping[str, Mapping[str, Any]], resamples: int) -> list[dict[str, Any]]:
    metrics = rows_metrics(tasks)
    intervals = bootstrap(tasks, resamples)
    n = len(next(iter(tasks.values()))["y"])
    out = []
    for name in shown_metrics(tasks, metrics):
        low, high = intervals.get(name, (np.nan, np.nan))
        out.append({"metric": name, "value": metrics[name], "low": low, "high": high, "n": n})
    return out


def live_metrics(log: pd.DataFrame, resamples: int, memo: dict[tuple[Any, ...], Any] | None = None) -> pd.DataFrame:
    """Live metrics per family, model version and target period, from forecast-log rows with outcomes.

    Args:
        log: ``read_forecasts`` rows (those without an outcome are ignored).
        resamples: bootstrap resamples per interval.
        memo: results kept by (family, version, period, joined rows, last id): a month already scored is not
            scored again (its rows only change when an outcome joins).

    Returns:
        family, model_version, target_period, metric, value, low, high, n.
    """
    columns = ["family", "model_version", "target_period", "metric", "value", "low", "high", "n"]
    joined = log[log["outcome"].notna()]
    rows: list[dict[str, Any]] = []
    for (family, version, period), group in joined.groupby(["family", "model_version", "target_period"], sort=True):
        key = (family, version, period, len(group), int(group["id"].max()), resamples)
        if memo is not None and key in memo:
            metrics = memo[key]
        else:
            metrics = group_metrics(group, resamples)
            if memo is not None:
                memo[key] = metrics
        rows += [{"family": family, "model_version": version, "target_period": period, **m} for m in metrics]
    return pd.DataFrame(rows, columns=columns)


def worse_than_test(metric: str, low: float, high: float, test: float | None, tolerance: float = 0.0) -> bool:
    """Whether a live metric's whole interval is worse than its test value (by more than ``tolerance``,
    relative). Metrics without a direction (coverage, calibration) and missing values never are."""
    direction = direction_of(metric)
    if test is None or direction is None or not np.isfinite(test) or not (np.isfinite(low) and np.isfinite(high)):
        return False
    if direction == "minimize":
        return bool(low > test * (1 + tolerance))
    return bool(high < test * (1 - tolerance))
