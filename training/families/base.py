"""The one shape every family follows: tasks, split, baselines, oracle (Bayes limit) and metrics.

A family subclass only says what differs (its tasks, its baselines, how its oracle joins); fitting,
evaluation, tracking and the gate are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features import FeatureSet
from models.bundle import ModelBundle, TaskKind, Transform, quantile_label
from models.metrics import probability_metrics, quantile_metrics, regression_metrics
from training.config import ExperimentConfig
from training.splits import Split, rows_in_file, split_around_test_rows, split_by_time, split_from_month


@dataclass(frozen=True)
class TaskPlan:
    """One target a family predicts."""

    name: str
    target: str
    kind: TaskKind
    unit: str = ""
    transform: Transform = "none"
    base: str | None = None  # the feature a "log_ratio" target is relative to
    monotone: dict[str, int] | None = None  # None: the feature set's family-wide directions
    # A classical forecast of the target among the features, as (transform, feature): it becomes a candidate
    # beside LightGBM (the forecast itself, quantile offsets per ``horizon``).
    classical: tuple[Transform, str] | None = None
    horizon: str = "horizon"
    # The inputs LightGBM may split on (None: every feature); the others stay in the bundle for the base,
    # the other candidates and the explanations, and contribute exactly 0 to the boosters.
    learn_from: tuple[str, ...] | None = None


class Family:
    """Defaults suit a single-task family split by time; subclasses override what differs."""

    name: str = ""

    def tasks(self, fs: FeatureSet, cfg: ExperimentConfig) -> list[TaskPlan]:
        raise NotImplementedError

    def split(self, fs: FeatureSet, cfg: ExperimentConfig) -> Split:
        """The last ``test_months`` to test, or the test rows the data scientist chose (``test_from``,
        ``test_file``); validation the ``valid_months`` before, training the rest before that."""
        assert fs.time_col is not None, f"{self.name}: a time split needs a time column"
        times, chosen = fs.frame[fs.time_col], cfg.split
        if chosen.test_file is not None:
            return split_around_test_rows(times, rows_in_file(fs.frame, fs.keys, chosen.test_file), chosen.valid_months)
        if chosen.test_from is not None:
            return split_from_month(times, chosen.test_from, chosen.valid_months)
        return split_by_time(times, chosen.valid_months, chosen.test_months)

    def context(self, fs: FeatureSet, split: Split) -> dict[str, Any]:
        """Anything evaluation needs beyond the rows themselves (e.g. MASE scales)."""
        return {}

    def baselines(
        self, fs: FeatureSet, split: Split, cfg: ExperimentConfig, features: list[str]
    ) -> dict[str, pd.DataFrame]:
        """Baseline predictions for the test rows, in the bundle's column names."""
        raise NotImplementedError

    def oracle(self, fs: FeatureSet, split: Split, oracle: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
        """The simulator's true probabilities / expected values for the test rows, if known."""
        return None

    def thresholds(self, cfg: ExperimentConfig) -> dict[str, Any]:
        """Decision thresholds the model carries into serving (plain JSON: the bundle stores them)."""
        return cfg.thresholds.model_dump(exclude_none=True)

    def extra_metrics(self, test: pd.DataFrame, preds: pd.DataFrame, cfg: ExperimentConfig) -> dict[str, float]:
        return {}

    def calibrate(self, fs: FeatureSet, split: Split, bundle: ModelBundle) -> dict[str, Any]:
        """Decision figures fitted on the validation slice once the boosters are fitted (plain JSON, kept in
        the bundle's thresholds), e.g. grazing's per-season conformal intervals. Default: none."""
        return {}

    def limit_metrics(
        self, fs: FeatureSet, split: Split, oracle: dict[str, pd.DataFrame], cfg: ExperimentConfig
    ) -> dict[str, float]:
        """Further limits on the test rows beside the oracle's (added to the test metrics), e.g. grazing's
        fair limit. Default: none."""
        return {}

    def evaluate(
        self,
        test: pd.DataFrame,
        preds: pd.DataFrame,
        tasks: list[TaskPlan],
        context: dict[str, Any],
        cfg: ExperimentConfig,
    ) -> dict[str, float]:
        """Metrics of one set of predictions on the test rows; task-prefixed when a family has several."""
        per_task: dict[str, dict[str, float]] = {}
        for task in tasks:
            y = pd.to_numeric(test[task.target], errors="coerce").to_numpy(dtype=float)
            mask = np.isfinite(y)
            per_task[task.name] = _task_metrics(task, y, preds, mask, context)
        if len(tasks) == 1:
            out = dict(next(iter(per_task.values())))
        else:
            out = {f"{t}_{k}": v for t, m in per_task.items() for k, v in m.items()}
            # Averages across tasks only for scale-free metrics (MAE of heads and of yuan do not add).
            shared = set.intersection(*(set(m) for m in per_task.values())) - {"mae", "rmse"}
            out.update({k: float(np.nanmean([m[k] for m in per_task.values()])) for k in sorted(shared)})
        out.update(self.extra_metrics(test, preds, cfg))
        return out


def _task_metrics(
    task: TaskPlan, y: np.ndarray, preds: pd.DataFrame, mask: np.ndarray, context: dict[str, Any]
) -> dict[str, float]:
    quantile_cols = {
        float(c.rsplit("_q", 1)[1]) / 1000: c
        for c in preds.columns
        if c.startswith(f"{task.name}_q") and c.rsplit("_q", 1)[1].isdigit()
    }
    if task.kind == "binary":
        return probability_metrics(y[mask], preds[f"p_{task.name}"].to_numpy(dtype=float)[mask])
    point = preds[task.name].to_numpy(dtype=float)[mask]
    if task.kind == "regression":
        out = regression_metrics(y[mask], point)
        lo, hi = quantile_cols.get(0.1), quantile_cols.get(0.9)
        if lo and hi:
            inside = (y[mask] >= preds[lo].to_numpy()[mask]) & (y[mask] <= preds[hi].to_numpy()[mask])
            out["coverage_80"] = float(inside.mean())
        return out
    scale = np.asarray(context["scale"][task.name], dtype=float)[mask]
    quantiles = {q: preds[c].to_numpy(dtype=float)[mask] for q, c in quantile_cols.items()}
    return quantile_metrics(y[mask], point, quantiles, scale)


def quantile_columns(task: str, values: dict[float, np.ndarray]) -> dict[str, np.ndarray]:
    """Name quantile forecasts the way :class:`models.ModelBundle` does."""
    return {f"{task}_{quantile_label(q)}": v for q, v in values.items()}
