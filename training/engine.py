"""Train one family: fit every task's boosters, calibrate, and score model, baselines and oracle on test rows."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features import FeatureSet
from features.featureset import all_missing
from models.bundle import FeatureEncoder, ModelBundle, TaskModel
from models.linear import GlmTreeBooster
from models.metrics import pinball_loss, probability_metrics, quantile_metrics
from models.reference import bundle_reference
from training.candidates import (
    CLASSICAL_WINDOWS,
    SPREAD_FACTORS,
    choose,
    classical_point,
    fit_logistic_glm,
    fit_quantile_offsets,
    nearly_constant,
)
from training.config import ConfigError, ExperimentConfig
from training.families import Family, TaskPlan, plan_for
from training.fit import booster_params, fit_booster, fit_platt
from training.recent_level import HISTORY_MONTHS, history_before, keep_recent_level, predict_at_recent_level
from training.splits import Split

MIN_LEAF_ROWS = 5


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
    # The labelled rows of the months just before the test rows: a recent level is rolled from them.
    history_frame: pd.DataFrame | None = None
    time_col: str | None = None

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
    valid_scale: dict[str, np.ndarray] | None = None,
) -> tuple[FeatureEncoder, dict[str, TaskModel]]:
    """Fit every task's candidates on the train slice and keep the one that does best on validation.

    LightGBM always (early stopping, then Platt or conformal shifts on validation); beside it a regularised
    logistic GLM for probabilities, and the classical forecast for a task that names one. A candidate that
    predicts a constant is never kept (:class:`training.candidates.ConstantModelError` if none is left).
    ``valid_scale`` (task -> MASE scale of each validation row) scores quantile tasks on validation.
    """
    encoder = FeatureEncoder(features, {f: fs.categorical[f] for f in features if f in fs.categorical})
    x = encoder.encode(fs.frame)
    base = {**cfg.lightgbm, **(params or {})}
    vocab_sizes = {features.index(f): len(v) for f, v in encoder.vocabularies.items()}
    models: dict[str, TaskModel] = {}
    for task in tasks:
        directions = fs.monotone if task.monotone is None else task.monotone
        monotone = [directions.get(f, 0) for f in features]
        y = transform_target(fs.frame, task, x, features)
        tr = split.train[np.isfinite(y[split.train])]
        va = split.valid[np.isfinite(y[split.valid])]
        scaled = scale_params_to_rows(base, len(tr))
        x_learn = learnable(x, features, task.learn_from)

        def fit(
            kind: Any,
            alpha: float | None = None,
            *,
            tr: np.ndarray = tr,
            va: np.ndarray = va,
            y: np.ndarray = y,
            monotone: list[int] = monotone,
            scaled: dict[str, Any] = scaled,
            x_learn: np.ndarray = x_learn,
            init_score: np.ndarray | None = None,
        ) -> Any:
            p = booster_params(scaled, kind, alpha=alpha, seed=cfg.seed, monotone=monotone)
            return fit_booster(
                x_learn[tr],
                y[tr],
                x_learn[va],
                y[va],
                p,
                feature_names=features,
                categorical=encoder.categorical_indices,
                num_boost_round=cfg.num_boost_round,
                early_stopping_rounds=cfg.early_stopping_rounds,
                init_score=None if init_score is None else (init_score[tr], init_score[va]),
            )

        candidates: dict[str, TaskModel] = {}
        allowed = set(cfg.candidates)
        if task.kind == "binary":
            if "lightgbm" in allowed:
                booster = fit("binary")
                calibration = fit_platt(np.asarray(booster.predict(x[va], raw_score=True)), y[va])
                candidates["lightgbm"] = TaskModel(
                    task.name, "binary", booster, calibration=calibration, unit=task.unit
                )
            if allowed & {"glm", "hybrid"}:
                glm = fit_logistic_glm(x[tr], y[tr], x[va], y[va], vocab_sizes, cfg.seed)
            if "glm" in allowed:
                glm_calibration = fit_platt(glm.predict(x[va], raw_score=True), y[va])
                candidates["glm"] = TaskModel(task.name, "binary", glm, calibration=glm_calibration, unit=task.unit)  # type: ignore[arg-type]
            if "hybrid" in allowed:
                # LightGBM boosted from the GLM's log-odds: the GLM's linear terms extrapolate (a winter
                # snowier than any in training), the trees learn the interactions it misses; calibrated alike.
                hybrid = GlmTreeBooster(glm, fit("binary", init_score=glm.predict(x, raw_score=True)))
                hybrid_calibration = fit_platt(hybrid.predict(x[va], raw_score=True), y[va])
                candidates["hybrid"] = TaskModel(
                    task.name,
                    "binary",
                    hybrid,  # type: ignore[arg-type]
                    calibration=hybrid_calibration,
                    unit=task.unit,
                )
        else:
            if "lightgbm" in allowed and task.classical is not None and task.base == task.classical[1]:
                candidates["lightgbm"] = fit_hybrid_task(task, cfg, fs.frame, features, x, split, fs.time_col, fit)
            elif "lightgbm" in allowed:
                candidates["lightgbm"] = fit_value_task(task, cfg, features, x, y, va, fit)
            if "classical" in allowed and task.classical is not None and task.kind == "quantile":
                candidates["classical"] = fit_classical_task(task, cfg, fs.frame, features, x, split, fs.time_col)
        if not candidates:
            raise ConfigError(
                f"task {task.name} ({task.kind}): none of the candidates {cfg.candidates} applies; "
                "add lightgbm to `candidates` in the experiment YAML"
            )
        scores = {
            name: validation_score(model, task, fs.frame, x, split.valid, cfg, (valid_scale or {}).get(task.name))
            for name, model in candidates.items()
        }
        constant = [name for name, model in candidates.items() if nearly_constant(model.point(x[va]))]
        chosen = choose(scores, constant, task.name)
        models[task.name] = candidates[chosen]
        models[task.name].selection = {"chosen": chosen, "valid_scores": scores, "constant": constant}
    return encoder, models


def fit_value_task(
    task: TaskPlan, cfg: ExperimentConfig, features: list[str], x: np.ndarray, y: np.ndarray, va: np.ndarray, fit: Any
) -> TaskModel:
    """LightGBM for a regression or quantile task: point and quantile boosters, conformal shifts on validation."""
    levels = cfg.quantiles if task.kind == "regression" else sorted({*cfg.quantiles, 0.5})
    quantiles = {q: fit("quantile", q) for q in levels}
    point = fit("regression") if task.kind == "regression" else quantiles[0.5]
    shifts = {q: conformal_shift(y[va], b.predict(x[va]), q) for q, b in quantiles.items() if b is not point}
    base_index = features.index(task.base) if task.base else None
    return TaskModel(
        task.name,
        task.kind,
        point,
        quantiles,
        unit=task.unit,
        transform=task.transform,
        base_index=base_index,
        quantile_shifts=shifts,
    )


def fit_classical_task(
    task: TaskPlan,
    cfg: ExperimentConfig,
    frame: pd.DataFrame,
    features: list[str],
    x: np.ndarray,
    split: Split,
    time_col: str | None,
) -> TaskModel:
    """The classical forecast named by the task (a feature) as it is, with quantile offsets per horizon
    (:func:`offsets_around`), on the log-ratio scale."""
    assert task.classical is not None
    transform, base = task.classical
    y, tr, va = classical_ratio(task, frame, features, x, split)
    point = classical_point(len(features), x[tr])
    offsets = offsets_around(np.zeros(len(x)), task, cfg, frame, features, x, y, tr, va, time_col)
    return TaskModel(
        task.name,
        task.kind,
        point,  # type: ignore[arg-type]
        {0.5: point, **offsets},  # type: ignore[dict-item]
        unit=task.unit,
        transform=transform,
        base_index=features.index(base),
    )


def fit_hybrid_task(
    task: TaskPlan,
    cfg: ExperimentConfig,
    frame: pd.DataFrame,
    features: list[str],
    x: np.ndarray,
    split: Split,
    time_col: str | None,
    fit: Any,
) -> TaskModel:
    """LightGBM's median correction of the task's classical forecast (the booster learns log-ratios to it
    from ``task.learn_from``), with quantile offsets around the corrected median (:func:`offsets_around`):
    served as the classical forecast times exp(the trees' sum)."""
    y, tr, va = classical_ratio(task, frame, features, x, split)
    booster = fit("quantile", 0.5)
    correction = np.asarray(booster.predict(x), dtype=float)
    offsets = offsets_around(correction, task, cfg, frame, features, x, y, tr, va, time_col)
    return TaskModel(
        task.name,
        task.kind,
        booster,
        {0.5: booster, **offsets},
        unit=task.unit,
        transform=task.transform,
        base_index=features.index(task.base) if task.base else None,
        offsets_on_point=True,
    )


def classical_ratio(
    task: TaskPlan, frame: pd.DataFrame, features: list[str], x: np.ndarray, split: Split
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The target as a log ratio to the task's classical forecast, and the train / validation rows where it
    is known."""
    assert task.classical is not None
    transform, base = task.classical
    as_ratio = TaskPlan(task.name, task.target, task.kind, task.unit, transform=transform, base=base)
    y = transform_target(frame, as_ratio, x, features)
    return y, split.train[np.isfinite(y[split.train])], split.valid[np.isfinite(y[split.valid])]


def offsets_around(
    point: np.ndarray,
    task: TaskPlan,
    cfg: ExperimentConfig,
    frame: pd.DataFrame,
    features: list[str],
    x: np.ndarray,
    y: np.ndarray,
    tr: np.ndarray,
    va: np.ndarray,
    time_col: str | None,
) -> dict[float, Any]:
    """Quantile offsets around ``point`` (log-ratio scale) per horizon: a normal whose spread is the robust
    one of the classical forecast's errors over the most recent training months, times a factor of at most 1
    (the window and factor whose offsets around ``point`` have the lowest validation pinball loss). The
    classical forecast is causal, so its training errors are honest ones, where a booster's own training
    errors would be too small; the classical candidate and the LightGBM correction of it share them, and
    compete on their medians."""
    by = features.index(task.horizon) if task.horizon in features else None
    months = pd.to_datetime(frame[time_col]).dt.to_period("M").to_numpy() if time_col else None
    best: tuple[float, dict[float, Any]] | None = None
    for window, factor in itertools.product(CLASSICAL_WINDOWS, SPREAD_FACTORS):
        rows = tr
        if window is not None and months is not None:
            rows = tr[months[tr] > months[tr].max() - window]
        if len(rows) < MIN_LEAF_ROWS * 10:
            continue
        offsets = {
            q: fit_quantile_offsets(x[rows], y[rows], q, by, len(features), factor) for q in cfg.quantiles if q != 0.5
        }
        loss = float(
            np.mean([pinball_loss(y[va], point[va] + m.predict(x[va]), q).mean() for q, m in offsets.items()] or [0.0])
        )
        if best is None or loss < best[0]:
            best = (loss, offsets)
    return best[1] if best else {}


def validation_score(
    model: TaskModel,
    task: TaskPlan,
    frame: pd.DataFrame,
    x: np.ndarray,
    valid: np.ndarray,
    cfg: ExperimentConfig,
    scale: np.ndarray | None,
) -> float:
    """Lower is better: the sum of the gate's metrics (sign-adjusted) on validation, or Brier / MASE when the
    gate's metrics are not task-level ones."""
    y = pd.to_numeric(frame[task.target].iloc[valid], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(y)
    xv = x[valid][ok]
    if task.kind == "binary":
        metrics = probability_metrics(y[ok], model.point(xv))
        fallback = "brier"
    elif task.kind == "quantile" and scale is not None:
        metrics = quantile_metrics(y[ok], model.point(xv), model.quantiles(xv), np.asarray(scale)[ok])
        fallback = "mase"
    else:
        metrics = {"mae": float(np.mean(np.abs(y[ok] - model.point(xv))))}
        fallback = "mae"
    rules = [r for r in cfg.gate.rules() if r.metric in metrics]
    if not rules:
        return float(metrics[fallback])
    return float(sum(metrics[r.metric] * (1 if r.direction == "minimize" else -1) for r in rules))


def learnable(x: np.ndarray, features: list[str], learn_from: tuple[str, ...] | None) -> np.ndarray:
    """``x`` with every column LightGBM may not learn from set to missing (an all-missing column is never
    split on, so the fitted trees ignore it wherever they are applied)."""
    if learn_from is None:
        return x
    out = x.copy()
    out[:, [j for j, f in enumerate(features) if f not in set(learn_from)]] = np.nan
    return out


def scale_params_to_rows(params: dict[str, Any], n_rows: int) -> dict[str, Any]:
    """LightGBM limits that fit the data: a leaf needs at most 1/20 of the rows (at least 5), and no more
    leaves than the rows can fill, so a small table still grows trees instead of one constant split."""
    out = dict(params)
    if "min_data_in_leaf" in out:
        out["min_data_in_leaf"] = int(min(out["min_data_in_leaf"], max(MIN_LEAF_ROWS, n_rows // 20)))
        if "num_leaves" in out:
            out["num_leaves"] = int(max(2, min(out["num_leaves"], n_rows // (2 * out["min_data_in_leaf"]))))
    return out


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
    # A feature with no value in the training rows teaches nothing: dropped, and said so (issue 13).
    dropped = all_missing(fs.frame, features, split.train)
    features = [f for f in features if f not in dropped]
    tasks = plan.tasks(fs, cfg)
    valid_context = plan.context(fs, Split(split.train, split.valid, split.valid))  # e.g. MASE scales
    encoder, models = fit_tasks(fs, cfg, split, features, tasks, params, valid_context.get("scale"))
    bundle = ModelBundle(
        family=cfg.family,
        encoder=encoder,
        tasks=models,
        thresholds=plan.thresholds(cfg),
        units={t.name: t.unit for t in tasks},
        metadata={
            "params": {**cfg.lightgbm, **(params or {})},
            "seed": cfg.seed,
            "candidates": {name: m.selection for name, m in models.items()},
            "dropped_features": {f: "all missing in the training rows" for f in dropped},
        },
        # The added fields the model reads travel with it, so the service can take and check them.
        added_fields={f: fs.measurements[f] for f in encoder.features if f in fs.measurements},
    )
    bundle.thresholds.update(plan.calibrate(fs, split, bundle))  # e.g. per-season conformal intervals (grazing)
    # The training rows' profile, kept in the bundle: serving measures drift against it (issue 11).
    bundle.metadata["reference"] = bundle_reference(bundle, fs.frame.iloc[split.train], period_col=fs.as_of_col)
    test = fs.frame.iloc[split.test].reset_index(drop=True)
    x_test = encoder.encode(test)
    history = history_before(fs, split, HISTORY_MONTHS)
    if cfg.recent_level_months is not None:
        keep_recent_level(bundle, fs, tasks, cfg.recent_level_months)
    preds = predict_at_recent_level(bundle, tasks, history, test, fs.time_col)
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
        history,
        fs.time_col,
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
    preds = predict_at_recent_level(
        bundle, result.tasks, result.history_frame, result.test_frame, result.time_col
    ).reset_index(drop=True)
    return result.plan.evaluate(result.test_frame, preds, result.tasks, result.context, cfg)
