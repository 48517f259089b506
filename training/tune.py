"""Optuna tuning on the validation slice: TPE sampler, median pruning, a resumable stored study.

Optuna 5 moved its LightGBM/MLflow integrations to ``optuna-integration`` and deprecated them; the
pruning callback here is a few lines of our own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna

from features import FeatureSet
from models.bundle import FeatureEncoder
from training.config import ExperimentConfig
from training.engine import select_features, transform_target
from training.families import plan_for
from training.fit import booster_params

# LightGBM's own name for the validation loss of each kind of primary task.
VALID_METRIC = {"binary": "binary_logloss", "regression": "l1", "quantile": "quantile"}


def pruning_callback(trial: optuna.Trial, metric: str) -> Callable[[Any], None]:
    """Report the validation metric every 10 rounds and stop trials the pruner gives up on."""

    def callback(env: Any) -> None:
        if env.iteration % 10:
            return
        for _, name, value, _ in env.evaluation_result_list:
            if name == metric:
                trial.report(float(value), step=env.iteration)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at round {env.iteration}")

    return callback


def suggest_params(trial: optuna.Trial, cfg: ExperimentConfig) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, dim in cfg.tuning.space.items():
        if dim.type == "int":
            params[name] = trial.suggest_int(name, int(dim.low), int(dim.high), log=dim.log)
        else:
            params[name] = trial.suggest_float(name, dim.low, dim.high, log=dim.log)
    return params


def sampler_seed(seed: int, done: int, storage: str, worker: str) -> int:
    """Seed of one call's TPE sampler. The same seed on every call would replay the study's trials: a
    resumed study would repeat its first trials, and parallel workers each other's.

    A local SQLite study has one worker: ``seed + trials so far`` keeps it reproducible. A shared database
    has several workers (whose interleaving is not reproducible anyway): the worker's identity is mixed in.
    """
    if storage.startswith("sqlite"):
        return seed + done
    return int.from_bytes(hashlib.sha256(f"{seed}:{done}:{worker}".encode()).digest()[:4], "little")


def tune_family(
    fs: FeatureSet, cfg: ExperimentConfig, n_trials: int, storage: str, study_name: str | None = None
) -> dict[str, Any]:
    """Run ``n_trials`` more trials of the family's study (created or resumed); return its summary.

    The objective is the primary task's validation loss, so the test slice is never looked at.
    """
    plan = plan_for(cfg.family)
    features = select_features(fs, cfg)
    split = plan.split(fs, cfg)
    task = plan.tasks(fs, cfg)[0]
    encoder = FeatureEncoder(features, {f: fs.categorical[f] for f in features if f in fs.categorical})
    x = encoder.encode(fs.frame)
    y = transform_target(fs.frame, task, x, features)  # what the boosters learn (log1p, log ratio ...)
    tr = split.train[np.isfinite(y[split.train])]
    va = split.valid[np.isfinite(y[split.valid])]
    kind = "quantile" if task.kind == "quantile" else task.kind
    metric = VALID_METRIC[kind]
    directions = fs.monotone if task.monotone is None else task.monotone
    monotone = [directions.get(f, 0) for f in features]
    # One Dataset serves every trial; pre-filtering would freeze min_data_in_leaf at its first value.
    train_set = lgb.Dataset(
        x[tr],
        y[tr],
        feature_name=features,
        categorical_feature=encoder.categorical_indices,
        free_raw_data=False,
        params={"feature_pre_filter": False},
    )
    valid_set = lgb.Dataset(x[va], y[va], reference=train_set)

    worker = f"{socket.gethostname()}:{os.getpid()}"  # which of several parallel workers ran a trial

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        params = booster_params(
            {**cfg.lightgbm, **suggest_params(trial, cfg), "metric": metric},
            kind,
            seed=cfg.seed,
            monotone=monotone,
        )
        evals: dict[str, Any] = {}
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=cfg.num_boost_round,
            valid_sets=[valid_set],
            valid_names=["valid"],
            callbacks=[
                lgb.early_stopping(cfg.early_stopping_rounds, verbose=False),
                lgb.record_evaluation(evals),
                pruning_callback(trial, metric),
            ],
        )
        trial.set_user_attr("best_iteration", booster.best_iteration)
        return float(min(evals["valid"][metric]))

    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        study_name=study_name or f"muzhang-{cfg.family}",
        storage=storage,
        load_if_exists=True,
        direction="minimize",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=30),
    )
    study.sampler = optuna.samplers.TPESampler(seed=sampler_seed(cfg.seed, len(study.trials), storage, worker))
    study.optimize(objective, n_trials=n_trials, timeout=cfg.tuning.timeout_s, gc_after_trial=False)
    states = [t.state for t in study.trials]
    return {
        "study_name": study.study_name,
        "n_trials": len(study.trials),
        "n_complete": states.count(optuna.trial.TrialState.COMPLETE),
        "n_pruned": states.count(optuna.trial.TrialState.PRUNED),
        "best_value": float(study.best_value),
        "best_params": dict(study.best_params),
        "objective": f"valid {metric} of task {task.name}",
    }
