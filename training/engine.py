"""Train one family: fit every task's boosters, calibrate, and score model, baselines and oracle on test rows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features import FeatureSet
from models.bundle import FeatureEncoder, ModelBundle, TaskModel
from models.reference import bundle_reference
from training.config import ExperimentConfig
from training.families import Family, TaskPlan, plan_for
from training.fit import booster_params, fit_booster, fit_platt
from training.splits import Split


@dataclass
class TrainResult:
    """Everything a run produced, before anything is logged."""

    bundle: ModelBundle
    split: Split
    features: list[str]
    test_frame: pd.DataFrame
    test_preds: pd.DataFrame
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    bayes: dict[str, float] | None
    seconds: float
    plan: Family
    tasks: list[TaskPlan]
    context: dict[str, Any] = field(default_factory=dict)
    x_test: np.ndarray | None = None

    def gap_to_bayes(self) -> dict[str, float]:
        if not self.bayes:
            return {}
        return {k: self.metrics[k] - v for k, v in self.bayes.items() if k in self.metrics and np.isfinite(v)}


def select_features(fs: FeatureSet, cfg: ExperimentConfig) -> list[str]:
    """The experiment's feature list (default: all the builder declares), minus ``drop_features``."""
    chosen = list(cfg.features) if cfg.features is not None else list(fs.features)
    unknown = [f for f in chosen if f not in fs.frame.columns]
    if unknown:
        raise ValueError(f"experiment lists features the builder does not make: {', '.join(unknown)}")
    return [f for f in chosen if f not in set(cfg.drop_features)]


def fit_tasks(
    fs: FeatureSet,
    cfg: ExperimentConfig,
    split: Split,
    features: list[str],
    tasks: list[TaskPlan],
    params: dict[str, Any] | None = None,
) -> tuple[FeatureEncoder, dict[str, TaskModel]]:
    """Fit the boosters of every task on the train slice (early stopping and calibration on validation)."""
    encoder = FeatureEncoder(features, {f: fs.categorical[f] for f in features if f in fs.categorical})
    x = encoder.encode(fs.frame)
    base = {**cfg.lightgbm, **(params or {})}
    models: dict[str, TaskModel] = {}
    for task in tasks:
        directions = fs.monotone if task.monotone is None else task.monotone
        monotone = [directions.get(f, 0) for f in features]
        y = transform_target(fs.frame, task, x, features)
        tr = split.train[np.isfinite(y[split.train])]
        va = split.valid[np.isfinite(y[split.valid])]

        def fit(
            kind: Any,
            alpha: float | None = None,
            *,
            tr: np.ndarray = tr,
            va: np.ndarray = va,
            y: np.ndarray = y,
            monotone: list[int] = monotone,
        ) -> Any:
            p = booster_params(base, kind, alpha=alpha, seed=cfg.seed, monotone=monotone)
            return fit_booster(
                x[tr],
                y[tr],
                x[va],
                y[va],
                p,
                feature_names=features,
                categorical=encoder.categorical_indices,
                num_boost_round=cfg.num_boost_round,
                early_stopping_rounds=cfg.early_stopping_rounds,
            )

        if task.kind == "binary":
            booster = fit("binary")
            calibration = fit_platt(np.asarray(booster.predict(x[va], raw_score=True)), y[va])
            models[task.name] = TaskModel(task.name, "binary", booster, calibration=calibration, unit=task.unit)
        else:
            levels = cfg.quantiles if task.kind == "regression" else sorted({*cfg.quantiles, 0.5})
            quantiles = {q: fit("quantile", q) for q in levels}
            point = fit("regression") if task.kind == "regression" else quantiles[0.5]
            shifts = {q: conformal_shift(y[va], b.predict(x[va]), q) for q, b in quantiles.items() if b is not point}
            base_index = features.index(task.base) if task.base else None
            models[task.name] = TaskModel(
                task.name,
                task.kind,
                point,
                quantiles,
                unit=task.unit,
                transform=task.transform,
                base_index=base_index,
                quantile_shifts=shifts,
            )
    return encoder, models


def transform_target(frame: pd.DataFrame, task: TaskPlan, x: np.ndarray, features: list[str]) -> np.ndarray:
    """The values a task's boosters learn (NaN where the target is unknown or the transform undefined)."""
    y = pd.to_numeric(frame[task.target], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if task.transform == "log1p":
            return np.log1p(np.where(y >= 0, y, np.nan))
        if task.transform == "log_ratio":
            assert task.base is not None, f"task {task.name}: log_ratio needs a base feature"
            base = x[:, features.index(task.base)]
            return np.where((y > 0) & (base > 0), np.log(y / base), np.nan)
        if task.transform == "log1p_ratio":
            assert task.base is not None, f"task {task.name}: log1p_ratio needs a base feature"
            base = x[:, features.index(task.base)]
            return np.where((y >= 0) & (base >= 0), np.log1p(y) - np.log1p(base), np.nan)
    return y


def conformal_shift(y_valid: np.ndarray, q_pred_valid: np.ndarray, q: float) -> float:
    """Offset that makes a quantile forecast cover exactly its level on the validation slice."""
    return float(np.quantile(y_valid - q_pred_valid, q))


def train_family(
    fs: FeatureSet,
    cfg: ExperimentConfig,
    oracle: dict[str, pd.DataFrame] | None = None,
    params: dict[str, Any] | None = None,
) -> TrainResult:
    """Fit, then evaluate the model, its baselines and the oracle on the same test rows."""
    start = time.perf_counter()
    plan = plan_for(cfg.family)
    features = select_features(fs, cfg)
    split = plan.split(fs, cfg)
    tasks = plan.tasks(fs, cfg)
    encoder, models = fit_tasks(fs, cfg, split, features, tasks, params)
    bundle = ModelBundle(
        family=cfg.family,
        encoder=encoder,
        tasks=models,
        thresholds=plan.thresholds(cfg),
        units={t.name: t.unit for t in tasks},
        metadata={"params": {**cfg.lightgbm, **(params or {})}, "seed": cfg.seed},
    )
    bundle.thresholds.update(plan.calibrate(fs, split, bundle))  # e.g. per-season conformal intervals (grazing)
    # The training rows' profile, kept in the bundle: serving measures drift against it (issue 11).
    bundle.metadata["reference"] = bundle_reference(bundle, fs.frame.iloc[split.train], period_col=fs.as_of_col)
    test = fs.frame.iloc[split.test].reset_index(drop=True)
    x_test = encoder.encode(test)
    preds = bundle.predict_matrix(x_test)
    context = plan.context(fs, split)
    metrics = plan.evaluate(test, preds, tasks, context, cfg)
    baselines = {
        name: plan.evaluate(test, p, tasks, context, cfg)
        for name, p in plan.baselines(fs, split, cfg, features).items()
    }
    oracle_preds = plan.oracle(fs, split, oracle) if oracle else None
    if oracle_preds is not None and not oracle_covers(oracle_preds, test, tasks):
        oracle_preds = None  # e.g. months reported after the simulation: no truth to compare with, no limit
    bayes = plan.evaluate(test, oracle_preds, tasks, context, cfg) if oracle_preds is not None else None
    if oracle_preds is not None:
        metrics.update(plan.limit_metrics(fs, split, oracle or {}, cfg))  # e.g. grazing's fair limit
    return TrainResult(
        bundle,
        split,
        features,
        test,
        preds,
        metrics,
        baselines,
        bayes,
        time.perf_counter() - start,
        plan,
        tasks,
        context,
        x_test,
    )


def oracle_covers(oracle_preds: pd.DataFrame, test: pd.DataFrame, tasks: list[TaskPlan]) -> bool:
    """Whether the simulator's truth is known for every test row that has a target (else the Bayes limit
    would be computed on other rows than the model's metrics, or fail on NaN)."""
    for task in tasks:
        known = np.isfinite(pd.to_numeric(test[task.target], errors="coerce").to_numpy(dtype=float))
        columns = [
            c for c in oracle_preds.columns if c in (task.name, f"p_{task.name}") or c.startswith(f"{task.name}_q")
        ]
        values = oracle_preds[columns].to_numpy(dtype=float)
        if not np.isfinite(values[known]).all():
            return False
    return True


def score_bundle(bundle: ModelBundle, result: TrainResult, cfg: ExperimentConfig) -> dict[str, float]:
    """Score another bundle (e.g. the current champion) on exactly the same test rows as ``result``."""
    preds = bundle.predict_frame(result.test_frame).reset_index(drop=True)
    return result.plan.evaluate(result.test_frame, preds, result.tasks, result.context, cfg)
