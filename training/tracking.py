"""MLflow: experiments, run logging, the registered model and the promotion gate.

Aliases move only at the very end of a successful run: a crash or interrupt before that leaves
``champion`` where it was and deletes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
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
from training.metrics import is_better

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    metric: str
    candidate: float
    reference: float
    reference_kind: str  # "champion vN" or "baseline NAME"
    note: str


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


def decide_promotion(
    result: TrainResult, cfg: ExperimentConfig, champion_score: float | None, champion_label: str
) -> GateDecision:
    """Challenger beats the champion on the same rows by the margin; a first model must beat its baselines."""
    metric, direction, margin = cfg.gate.metric, cfg.gate.direction, cfg.gate.margin
    if metric not in result.metrics:
        raise KeyError(f"gate metric {metric!r} is not among this family's metrics: {sorted(result.metrics)}")
    candidate = result.metrics[metric]
    if champion_score is not None:
        promoted = is_better(candidate, champion_score, direction, margin)
        verb = "beats" if promoted else "does not beat"
        return GateDecision(
            promoted,
            metric,
            candidate,
            champion_score,
            champion_label,
            f"{metric} {candidate:.5g} {verb} {champion_label} {champion_score:.5g} by margin {margin}",
        )
    scores = {name: m[metric] for name, m in result.baselines.items() if metric in m}
    best_name = min(scores, key=scores.get) if direction == "minimize" else max(scores, key=scores.get)  # type: ignore[arg-type]
    promoted = all(is_better(candidate, s, direction, margin) for s in scores.values())
    verb = "beats" if promoted else "does not beat"
    return GateDecision(
        promoted,
        metric,
        candidate,
        scores[best_name],
        f"baseline {best_name}",
        f"first model: {metric} {candidate:.5g} {verb} baseline {best_name} {scores[best_name]:.5g}",
    )


def check_gate_metric(result: TrainResult, cfg: ExperimentConfig) -> None:
    """Fail before anything is logged if the gate could not decide (metric unknown to the model or baselines)."""
    metric = cfg.gate.metric
    if metric not in result.metrics:
        raise ValueError(f"gate.metric {metric!r} is not a metric of {cfg.family}: {', '.join(sorted(result.metrics))}")
    if not any(metric in m for m in result.baselines.values()):
        shared = set.intersection(*(set(m) for m in result.baselines.values()))
        raise ValueError(
            f"gate.metric {metric!r} is not computed for any {cfg.family} baseline, so a first model could not "
            f"be judged; choose one of: {', '.join(sorted(shared))}"
        )


def current_champion(client: MlflowClient, name: str) -> Any | None:
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


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
) -> tuple[str, str, GateDecision]:
    """Log the run, register a new version as ``challenger`` and apply the promotion gate.

    Returns (run id, new version, gate decision).
    """
    check_gate_metric(result, cfg)
    client = configure_tracking(settings)
    experiment_id = ensure_experiment(f"muzhang-{cfg.family}", settings)
    name = cfg.registered_model
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{cfg.family}-seed{cfg.seed}") as run:
        run_id = run.info.run_id
        mlflow.set_tags({"family": cfg.family, "git_commit": git_commit(), "data_fingerprint": fingerprint})
        mlflow.log_params({f"lgb_{k}": v for k, v in {**cfg.lightgbm, **result.bundle.metadata["params"]}.items()})
        mlflow.log_params(
            {
                "seed": cfg.seed,
                "n_features": len(result.features),
                "gate_metric": cfg.gate.metric,
                "gate_margin": cfg.gate.margin,
                "quantiles": ",".join(map(str, cfg.quantiles)),
                **{f"rows_{k}": v for k, v in rows.items()},
                **{f"split_{k}": v for k, v in result.split.sizes().items()},
            }
        )
        mlflow.log_text(config_text, "experiment.yaml")
        mlflow.log_metrics(_flat_metrics(result))
        if study:
            mlflow.log_params({f"best_{k}": v for k, v in study["best_params"].items()})
            mlflow.log_metrics({"study_best_value": study["best_value"], "study_trials": study["n_trials"]})
            mlflow.log_text(json.dumps(study, indent=2, default=str), "optuna_study.json")

        champion = current_champion(client, name)
        champion_score, champion_label = None, ""
        if champion is not None:
            try:
                champion_bundle = load_bundle(f"models:/{name}@{CHAMPION}")
                champion_score = score_bundle(champion_bundle, result, cfg).get(cfg.gate.metric)
                champion_label = f"champion v{champion.version}"
            except Exception as exc:  # a champion that cannot score these rows cannot defend its title
                mlflow.set_tag("gate_champion_error", f"{type(exc).__name__}: {exc}"[:500])
        decision = decide_promotion(result, cfg, champion_score, champion_label)

        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            importance = feature_importance(result)
            importance.to_csv(folder / "feature_importance.csv", index=False)
            write_shap_summary(result, folder / "shap_summary.png", personal=personal)
            write_diagnostic_plot(
                result, folder / ("calibration.png" if result.tasks[0].kind == "binary" else "forecast.png")
            )
            (folder / "model_card.md").write_text(
                model_card(result, run_id=run_id, fingerprint=fingerprint, rows=rows, gate_note=decision.note),
                encoding="utf-8",
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
                registered_model_name=name,
            )
        version = str(info.registered_model_version)
        mlflow.log_metrics({"gate_candidate": decision.candidate, "gate_reference": decision.reference})
        mlflow.set_tags(
            {
                "gate_decision": "promoted" if decision.promoted else "kept_as_challenger",
                "gate_reference": decision.reference_kind,
                "gate_note": decision.note,
                "model_version": version,
            }
        )
        # Only now, with everything logged, do aliases move.
        client.set_registered_model_alias(name, CHALLENGER, version)
        if decision.promoted:
            client.set_registered_model_alias(name, CHAMPION, version)
    return run_id, version, decision
