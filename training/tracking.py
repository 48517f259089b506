"""MLflow: experiments, run logging, the registered model and the promotion gate's I/O.

The gate's rule is pure (``training.gate``); here the champion is read, scored on this run's test rows and
the aliases moved, as a compare-and-set under a per-model promotion lock (``training.locks``), so any number
of trainers may finish together. Aliases move only at the very end of a successful run: a crash or interrupt
before that leaves ``champion`` where it was and deletes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from models.bundle import save_bundle
from models.pyfunc import BUNDLE_ARTIFACT, ENTRY_POINT, load_bundle
from muzhang.paths import PROJECT_ROOT
from muzhang.settings import Settings
from training.artifacts import feature_importance, model_card, write_diagnostic_plot, write_shap_summary
from training.config import ExperimentConfig
from training.engine import TrainResult, score_bundle
from training.gate import GateDecision, check_gate_metric, decide_promotion
from training.locks import LockPlan, plan_lock, promotion_lock, retry_on_conflict

CHAMPION, CHALLENGER = "champion", "challenger"
RECHECK_ROUNDS = 5  # without a lock (tracking server): re-judge at most this often after someone else's write

__all__ = ["CHALLENGER", "CHAMPION", "GateDecision", "check_gate_metric", "decide_promotion", "log_and_register"]


def configure_tracking(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured store (embedded SQLite under work_dir by default)."""
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep CLI output readable
    point_mlflow_at(settings.tracking_uri())
    return MlflowClient()


def point_mlflow_at(uri: str) -> None:
    """Set MLflow's tracking and registry URI for this process without leaving it in the environment.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI``, which the settings object would
    later read as a configured server; the environment is put back as it was.
    """
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def ensure_experiment(name: str, settings: Settings) -> str:
    """Experiment id; created with an explicit artifact folder on an embedded store (MLflow 3 pitfall).

    Embedded means any database URI (SQLite, PostgreSQL ...) used without a tracking server: MLflow would
    otherwise put artifacts in ``./mlruns`` of whatever directory the process started in.
    """
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    location = None
    if not settings.tracking_uri().startswith(("http:", "https:", "databricks")):  # a server chooses its own
        location = (settings.artifact_root() / name).as_uri()
    try:
        return str(mlflow.create_experiment(name, artifact_location=location))
    except MlflowException:  # a parallel worker created it first
        existing = mlflow.get_experiment_by_name(name)
        if existing is None:
            raise
        return str(existing.experiment_id)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def typical_input(frame: pd.DataFrame, features: list[str], categorical: dict[str, list[str]]) -> pd.DataFrame:
    """A made-up example row (medians and most common categories): never a real record of a person."""
    row: dict[str, Any] = {}
    for f in features:
        if f in categorical:
            mode = frame[f].mode(dropna=True)
            row[f] = str(mode.iloc[0]) if len(mode) else categorical[f][0]
        else:
            row[f] = float(pd.to_numeric(frame[f], errors="coerce").median())
    return pd.DataFrame([row])


def _flat_metrics(result: TrainResult) -> dict[str, float]:
    out = {f"test_{k}": v for k, v in result.metrics.items()}
    for name, metrics in result.baselines.items():
        out.update({f"baseline_{name}_{k}": v for k, v in metrics.items()})
    if result.bayes:
        out.update({f"bayes_{k}": v for k, v in result.bayes.items()})
        out.update({f"gap_{k}": v for k, v in result.gap_to_bayes().items()})
    return {k: float(v) for k, v in out.items() if v is not None and np.isfinite(v)}


NOT_FOUND_CODES = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # no such model / no such alias


def current_champion(client: MlflowClient, name: str) -> Any | None:
    """The version holding ``champion`` now, or ``None``; other registry errors propagate (never "no champion")."""
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        if exc.error_code in NOT_FOUND_CODES:
            return None
        raise


class ChampionScores:
    """The gate metrics of champion versions on this run's test rows, each version scored at most once."""

    def __init__(self, name: str, result: TrainResult, cfg: ExperimentConfig) -> None:
        self.name, self.result, self.cfg = name, result, cfg
        self.scores: dict[str, dict[str, float] | None] = {}
        self.errors: dict[str, str] = {}

    def score(self, version: str) -> dict[str, float] | None:
        """``None`` if that version cannot score these rows: such a champion cannot defend its title."""
        if version not in self.scores:
            try:
                bundle = load_bundle(f"models:/{self.name}/{version}")  # by number: the alias may move meanwhile
                metrics = score_bundle(bundle, self.result, self.cfg)
                values = {r.metric: float(metrics[r.metric]) for r in self.cfg.gate.rules() if r.metric in metrics}
                self.scores[version] = values if self.cfg.gate.metric in values else None
            except Exception as exc:
                self.scores[version] = None
                self.errors[version] = f"{type(exc).__name__}: {exc}"[:500]
        return self.scores[version]

    def judge(self, champion: Any | None) -> GateDecision:
        """The gate's decision for this run against ``champion`` (a model version, or ``None``)."""
        score, label = None, ""
        if champion is not None:
            score = self.score(str(champion.version))
            label = f"champion v{champion.version}"
        decision = decide_promotion(self.cfg.gate, self.result.metrics, self.result.baselines, score, label)
        if champion is None:
            return decision
        return replace(decision, champion_version=str(champion.version))


def register_version(model_uri: str, name: str) -> str:
    """Register ``model_uri`` as a new version of ``name`` (the model created if missing), retrying conflicts.

    Concurrent trainers race on creating the registered model and on the next version number.
    """
    version = retry_on_conflict(lambda: mlflow.register_model(model_uri, name))
    return str(version.version)


def lock_plan(settings: Settings) -> LockPlan:
    return plan_lock(settings.tracking_uri(), work_dir=settings.work_dir, shared_database=settings.optuna_storage)


def promote(
    client: MlflowClient,
    name: str,
    version: str,
    judge: Callable[[Any | None], GateDecision],
    record: Callable[[GateDecision], None],
    plan: LockPlan,
) -> GateDecision:
    """Judge ``version`` against the champion as it is now and move the aliases: a compare-and-set.

    Under the promotion lock nobody else moves ``champion`` between the read and the write. Without one
    (a tracking server and no shared PostgreSQL database), the champion is read again after the write; if
    another trainer moved it in between, this run is judged again against that one (at most
    :data:`RECHECK_ROUNDS` times). That narrows the window but cannot close it: two writes racing inside
    the last round keep the later one.
    """

    def set_alias(alias: str) -> None:
        retry_on_conflict(lambda: client.set_registered_model_alias(name, alias, version))

    with promotion_lock(plan, name):
        for _ in range(RECHECK_ROUNDS):
            champion = current_champion(client, name)
            decision = judge(champion)
            record(decision)
            set_alias(CHALLENGER)
            if decision.promoted:
                set_alias(CHAMPION)
            if plan.kind != "none":
                return decision
            expected = version if decision.promoted else (None if champion is None else str(champion.version))
            now = current_champion(client, name)
            if (None if now is None else str(now.version)) == expected:
                return decision
        return decision


def log_and_register(
    result: TrainResult,
    cfg: ExperimentConfig,
    settings: Settings,
    *,
    config_text: str,
    fingerprint: str,
    rows: dict[str, int],
    personal: bool,
    study: dict[str, Any] | None = None,
    data_tags: dict[str, str] | None = None,
) -> tuple[str, str, GateDecision]:
    """Log the run, register a new version as ``challenger`` and apply the promotion gate.

    Returns (run id, new version, gate decision).
    """
    check_gate_metric(cfg.gate, result.metrics, result.baselines, cfg.family)
    client = configure_tracking(settings)
    experiment_id = ensure_experiment(f"muzhang-{cfg.family}", settings)
    name = cfg.registered_model
    plan = lock_plan(settings)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{cfg.family}-seed{cfg.seed}") as run:
        run_id = run.info.run_id
        mlflow.set_tags(
            {"family": cfg.family, "git_commit": git_commit(), "data_fingerprint": fingerprint, **(data_tags or {})}
        )
        mlflow.log_params({f"lgb_{k}": v for k, v in {**cfg.lightgbm, **result.bundle.metadata["params"]}.items()})
        mlflow.log_params(
            {
                "seed": cfg.seed,
                "n_features": len(result.features),
                "gate_metric": cfg.gate.metric,
                "gate_metrics": ",".join(r.metric for r in cfg.gate.rules()),
                "gate_margin": cfg.gate.margin,
                "quantiles": ",".join(map(str, cfg.quantiles)),
                **{f"rows_{k}": v for k, v in rows.items()},
                **{f"split_{k}": v for k, v in result.split.sizes().items()},
            }
        )
        mlflow.log_text(config_text, "experiment.yaml")
        # Which candidate each task kept (lightgbm, glm, classical) and every candidate's validation score.
        selections = result.bundle.metadata.get("candidates", {})
        mlflow.log_params({f"candidate_{task}": sel["chosen"] for task, sel in selections.items()})
        mlflow.log_metrics(
            {
                f"valid_score_{task}_{name}": float(score)
                for task, sel in selections.items()
                for name, score in sel["valid_scores"].items()
                if np.isfinite(score)
            }
        )
        mlflow.log_metrics(_flat_metrics(result))
        if study:
            mlflow.log_params({f"best_{k}": v for k, v in study["best_params"].items()})
            mlflow.log_metrics({"study_best_value": study["best_value"], "study_trials": study["n_trials"]})
            mlflow.log_text(json.dumps(study, indent=2, default=str), "optuna_study.json")

        # Score today's champion now, outside the lock; under it only a champion that changed meanwhile is scored.
        scores = ChampionScores(name, result, cfg)
        scores.judge(current_champion(client, name))

        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            importance = feature_importance(result)
            importance.to_csv(folder / "feature_importance.csv", index=False)
            write_shap_summary(result, folder / "shap_summary.png", personal=personal)
            write_diagnostic_plot(
                result, folder / ("calibration.png" if result.tasks[0].kind == "binary" else "forecast.png")
            )
            mlflow.log_artifacts(str(folder))

        bundle = result.bundle
        bundle.metadata.update(
            {
                "run_id": run_id,
                "trained_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
                "test_metrics": {k: round(float(v), 6) for k, v in result.metrics.items()},
                "data_fingerprint": fingerprint,
            }
        )
        example = typical_input(result.test_frame, result.features, bundle.encoder.vocabularies)
        signature = infer_signature(example, bundle.predict_frame(example))
        with tempfile.TemporaryDirectory() as tmp:
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(ENTRY_POINT),
                artifacts={BUNDLE_ARTIFACT: str(save_bundle(bundle, Path(tmp) / BUNDLE_ARTIFACT))},
                signature=signature,
                input_example=example,
                code_paths=[str(PROJECT_ROOT / "models")],
                pip_requirements=[
                    f"lightgbm=={lgb.__version__}",
                    f"pandas=={pd.__version__}",
                    f"numpy=={np.__version__}",
                    f"mlflow=={mlflow.__version__}",
                ],
            )
        version = register_version(info.model_uri, name)

        def record(decision: GateDecision) -> None:
            """The decision in the run (overwritten if a re-check changes it), before any alias moves."""
            mlflow.log_text(
                model_card(result, run_id=run_id, fingerprint=fingerprint, rows=rows, gate_note=decision.note),
                "model_card.md",
            )
            mlflow.log_metrics({"gate_candidate": decision.candidate, "gate_reference": decision.reference})
            tags = {
                "gate_decision": "promoted" if decision.promoted else "kept_as_challenger",
                "gate_reference": decision.reference_kind,
                "gate_note": decision.note,
                "gate_lock": plan.describe(),
                "model_version": version,
            }
            if scores.errors:
                tags["gate_champion_error"] = "; ".join(f"v{v}: {e}" for v, e in scores.errors.items())[:500]
            mlflow.set_tags(tags)

        decision = promote(client, name, version, scores.judge, record, plan)
    return run_id, version, decision
