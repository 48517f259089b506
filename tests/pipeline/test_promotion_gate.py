"""The promotion gate on a real registry: better models take ``champion``, worse ones and crashes do not.

One store per module: a deliberately weak dispute model is made champion, a normal one challenges it,
then a weak one again. Dispute is cheap to train and its weak model (one tree of four leaves: four
risks for the county) is clearly worse than a trained one; grazing's no longer is, as it learns a ratio to each
grid's own expected yield, which a tree without a split already gives. The gate code is shared by all four.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pytest

import training.tracking
from training.config import default_config_path, load_config
from training.pipeline import RunSummary, run_training

pytestmark = pytest.mark.slow

FAMILY = "dispute"
NAME = "muzhang-dispute"
# One tree of four leaves: four risks for the whole county (two would be refused as nearly constant).
# LightGBM alone (the GLM would win both runs), so the runs differ in what the gate judges.
LIGHTGBM: dict[str, Any] = {"candidates": ["lightgbm"]}
WEAK: dict[str, Any] = {**LIGHTGBM, "num_boost_round": 1, "lightgbm.num_leaves": 4, "lightgbm.learning_rate": 1.0}


@dataclass
class GateHistory:
    settings: Any
    weak: RunSummary
    better: RunSummary
    worse: RunSummary
    aliases: dict[str, dict[str, str]]  # after step -> alias -> version


def aliases_of(client: Any) -> dict[str, str]:
    return {k: str(v) for k, v in client.get_registered_model(NAME).aliases.items()}


@pytest.fixture(scope="module")
def gate_history(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_county: Path,
    new_store: Any,
    fast_overrides: dict[str, Any],
    store_client: Callable[[Any], Any],
) -> GateHistory:
    with new_store(tmp_path_factory.mktemp("gate"), tiny_county) as settings:
        weak = run_training(FAMILY, settings, overrides={**fast_overrides, **WEAK})
        client = store_client(settings)
        if not weak.promoted:  # a first model must beat its baseline; force the weak one in to challenge it
            client.set_registered_model_alias(NAME, "champion", weak.version)
        aliases = {"weak": aliases_of(client)}
        better = run_training(FAMILY, settings, overrides={**fast_overrides, **LIGHTGBM})
        aliases["better"] = aliases_of(store_client(settings))
        worse = run_training(FAMILY, settings, overrides={**fast_overrides, **WEAK})
        aliases["worse"] = aliases_of(store_client(settings))
        return GateHistory(settings, weak, better, worse, aliases)


def test_better_challenger_is_promoted_to_champion(gate_history: GateHistory) -> None:
    h = gate_history
    assert h.aliases["weak"]["champion"] == h.weak.version == "1"
    assert h.better.version == "2"
    assert h.better.promoted, h.better.gate_note
    assert "champion v1" in h.better.gate_note
    assert h.aliases["better"] == {"champion": "2", "challenger": "2"}


def test_better_challenger_run_records_the_champion_it_beat(gate_history: GateHistory, tracking_client: Any) -> None:
    run = tracking_client(gate_history.settings).get_run(gate_history.better.run_id)
    assert run.data.tags["gate_decision"] == "promoted"
    assert run.data.tags["gate_reference"] == "champion v1"
    margin = load_config(default_config_path(FAMILY)).gate.margin
    assert run.data.metrics["gate_candidate"] < run.data.metrics["gate_reference"] - margin  # brier


def test_worse_challenger_stays_challenger_and_champion_is_unchanged(
    gate_history: GateHistory, tracking_client: Any
) -> None:
    h = gate_history
    assert h.worse.version == "3"
    assert not h.worse.promoted, h.worse.gate_note
    assert h.aliases["worse"] == {"champion": "2", "challenger": "3"}
    run = tracking_client(h.settings).get_run(h.worse.run_id)
    assert run.data.tags["gate_decision"] == "kept_as_challenger"
    assert run.data.tags["gate_reference"] == "champion v2"


class DiskFull(RuntimeError):
    pass


def fail(*args: Any, **kwargs: Any) -> None:
    raise DiskFull("no space left on device")


@pytest.mark.parametrize(
    ("target", "attribute"),
    [(training.tracking, "write_shap_summary"), (training.tracking.mlflow.pyfunc, "log_model")],
    ids=["shap-summary", "log-model"],
)
def test_crash_mid_run_keeps_champion_and_every_version(
    gate_history: GateHistory,
    tracking_client: Any,
    fast_overrides: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    target: Any,
    attribute: str,
) -> None:
    settings = gate_history.settings
    client = tracking_client(settings)
    experiment = client.get_experiment_by_name(f"muzhang-{FAMILY}")
    runs_before = {r.info.run_id for r in client.search_runs([experiment.experiment_id])}
    versions_before = {v.version for v in client.search_model_versions(f"name='{NAME}'")}
    aliases_before = aliases_of(client)
    monkeypatch.setattr(target, attribute, fail)

    with pytest.raises(DiskFull):
        run_training(FAMILY, settings, overrides={**fast_overrides, **LIGHTGBM})

    client = tracking_client(settings)
    assert aliases_of(client) == aliases_before
    assert aliases_before["champion"] == "2"
    assert {v.version for v in client.search_model_versions(f"name='{NAME}'")} == versions_before
    new_runs = [r for r in client.search_runs([experiment.experiment_id]) if r.info.run_id not in runs_before]
    assert [r.info.status for r in new_runs] == ["FAILED"]
    assert mlflow.active_run() is None  # the failed run was closed, so the next run can start
