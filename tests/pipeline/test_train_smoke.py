"""Every family through the real ``run_training`` on a tiny county: logged, registered, gated."""

from __future__ import annotations

from typing import Any

import pytest

from features import FeatureSet
from muzhang.families import family_names
from training.families import plan_for

FAMILIES = family_names()  # the built-in families (the registry at collection time)
pytestmark = pytest.mark.slow

COMMON_ARTIFACTS = {"model_card.md", "shap_summary.png", "feature_importance.csv", "experiment.yaml"}
DIAGNOSTIC_PLOT = {
    "grazing": "forecast.png",
    "market": "forecast.png",
    "dispute": "calibration.png",
    "disease": "calibration.png",
}


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_county_split_has_train_valid_and_test_rows(
    tiny_feature_sets: dict[str, FeatureSet], fast_config: Any, family: str
) -> None:
    """Guards the fixture itself: a county too short for the split would make every other test fail oddly."""
    split = plan_for(family).split(tiny_feature_sets[family], fast_config(family))
    assert min(split.sizes().values()) > 0, split.sizes()


@pytest.mark.parametrize("family", FAMILIES)
def test_run_training_registers_version_1_as_challenger(
    trained_runs: dict[str, Any], tracked_settings: Any, tracking_client: Any, family: str
) -> None:
    summary = trained_runs[family]
    client = tracking_client(tracked_settings)
    name = f"muzhang-{family}"
    assert summary.version == "1"
    assert client.get_model_version(name, "1").run_id == summary.run_id
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "1"


@pytest.mark.parametrize("family", FAMILIES)
def test_first_model_gate_decision_is_logged_as_tag_and_metrics(
    trained_runs: dict[str, Any], tracked_settings: Any, tracking_client: Any, fast_config: Any, family: str
) -> None:
    summary = trained_runs[family]
    run = tracking_client(tracked_settings).get_run(summary.run_id)
    gate_metric = fast_config(family).gate.metric
    assert run.data.tags["gate_decision"] == ("promoted" if summary.promoted else "kept_as_challenger")
    assert run.data.tags["gate_reference"].startswith("baseline ")  # no champion yet: baselines decide
    assert run.data.metrics["gate_candidate"] == pytest.approx(summary.metrics[gate_metric])
    best_baseline = min if fast_config(family).gate.direction == "minimize" else max
    floors = fast_config(family).gate.floors or list(summary.baselines)  # the baselines a first model must beat
    baseline_scores = [summary.baselines[b][gate_metric] for b in floors if gate_metric in summary.baselines[b]]
    assert run.data.metrics["gate_reference"] == pytest.approx(best_baseline(baseline_scores))


@pytest.mark.parametrize("family", FAMILIES)
def test_run_logs_model_card_shap_importance_config_and_diagnostic_plot(
    trained_runs: dict[str, Any], tracked_settings: Any, tracking_client: Any, family: str
) -> None:
    client = tracking_client(tracked_settings)
    logged = {a.path for a in client.list_artifacts(trained_runs[family].run_id)}
    missing = (COMMON_ARTIFACTS | {DIAGNOSTIC_PLOT[family]}) - logged
    assert not missing, f"{family}: missing artifacts {sorted(missing)}; logged {sorted(logged)}"


@pytest.mark.parametrize("family", FAMILIES)
def test_run_logs_params_and_test_baseline_and_bayes_metrics(
    trained_runs: dict[str, Any], tracked_settings: Any, tracking_client: Any, fast_config: Any, family: str
) -> None:
    summary = trained_runs[family]
    run = tracking_client(tracked_settings).get_run(summary.run_id)
    cfg = fast_config(family)
    params, metrics = run.data.params, run.data.metrics
    assert params["seed"] == str(cfg.seed)
    assert params["gate_metric"] == cfg.gate.metric
    assert int(params["split_test"]) > 0 and any(k.startswith("lgb_") for k in params)
    for prefix in ("test_", "baseline_", "bayes_"):
        assert any(k.startswith(prefix) for k in metrics), f"{family}: no metric starts with {prefix!r}"
    assert metrics[f"test_{cfg.gate.metric}"] == pytest.approx(summary.metrics[cfg.gate.metric])
