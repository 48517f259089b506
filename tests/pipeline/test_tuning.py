"""Optuna tuning keeps its study in the configured SQLite storage and resumes it on the next call."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from features import FeatureSet
from training.tune import tune_family

pytestmark = pytest.mark.slow


def test_tune_family_stores_study_and_resumes_it_with_more_trials(
    tiny_feature_sets: dict[str, FeatureSet], fast_config: Any, make_settings: Any
) -> None:
    settings = make_settings()
    settings.work_dir.mkdir(parents=True)  # run_training makes it; tune_family is called directly here
    storage = settings.study_storage()
    assert storage.startswith("sqlite:///") and storage.endswith("optuna.db")
    fs, cfg = tiny_feature_sets["grazing"], fast_config("grazing")

    first = tune_family(fs, cfg, 3, storage)
    assert (settings.work_dir / "optuna.db").is_file()
    stored = optuna.load_study(study_name=first["study_name"], storage=storage)
    assert len(stored.trials) == first["n_trials"] == 3

    second = tune_family(fs, cfg, 2, storage)
    assert second["study_name"] == first["study_name"] == "muzhang-grazing"
    assert second["n_trials"] == 5
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == ["muzhang-grazing"]
    resumed = optuna.load_study(study_name="muzhang-grazing", storage=storage)
    assert [t.number for t in resumed.trials] == [0, 1, 2, 3, 4]
    assert set(second["best_params"]) == set(cfg.tuning.space)
    assert second["best_value"] <= first["best_value"]
