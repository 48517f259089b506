"""The walkthrough of docs/bring-your-own-data.md, command by command, in a temporary work directory.

The example (data_samples/byod) is a 200-person health check with a glucose reading the shipped catalog
does not know (declared in the directory's catalog.yaml), a heart rate never measured, two real but unusual
readings, and outcomes, among them a condition the shipped catalog does not know (diabetes within five years,
declared with its horizon in the same catalog.yaml): no other county table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from features import build_features, load_county
from features.disease import CONDITIONS
from muzhang.catalog import catalog_for
from muzhang.paths import DATA_SAMPLES
from muzhang.settings import Settings, get_settings
from serving.scoring.disease import condition_terms, headline
from training.config import default_config_path, load_config
from training.engine import train_family

BYOD = DATA_SAMPLES / "byod"
WARNINGS = (
    "row 17  field bmi  value 67.1  warning: outside the plausible range 12 to 60 kg/m2; kept, check the record",
    "row 42  field diastolic_bp  value 24  warning: outside the plausible range 30 to 160 mmHg; kept, check the record",
)


@pytest.fixture
def sandbox(
    make_settings: Callable[..., Settings], tracking_client: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Any]]:
    """The commands' work directory (MLflow, Optuna) in tmp_path, and an MLflow client for it.

    The tracking sandboxes clear the store variables first; MUZHANG_WORK_DIR is set after them, and checked,
    so no command of this walkthrough can reach the project's own state folder.
    """
    settings = make_settings("work", data_dir=BYOD)
    monkeypatch.setenv("MUZHANG_WORK_DIR", str(settings.work_dir))
    assert get_settings().tracking_uri() == settings.tracking_uri()
    yield settings.work_dir, tracking_client(settings)


def test_validate_keeps_the_unusual_readings_as_warnings(sandbox: tuple[Path, Any]) -> None:
    result = CliRunner().invoke(app, ["data", "validate", str(BYOD), "--family", "disease"])

    assert result.exit_code == 0, result.output
    assert all(line in result.output for line in WARNINGS), result.output
    assert "patients          OK, 2 warnings  (patients.csv, 200 rows)" in result.output
    assert result.output.rstrip().endswith("OK: no problems found")


def test_train_disease_from_the_health_check_alone(sandbox: tuple[Path, Any]) -> None:
    work_dir, client = sandbox
    result = CliRunner().invoke(app, ["train", "disease", "--data", str(BYOD)])

    assert result.exit_code == 0, result.output
    assert "(family disease needs patients, patient_outcomes)" in result.output
    assert all(line in result.output for line in WARNINGS), result.output
    assert "[disease] features: 200 rows x " in result.output
    assert "[disease] dropped feature heart_rate: all missing in the training rows" in result.output
    assert "disease: run " in result.output and "-> version 1" in result.output
    assert f"tracking store: sqlite:///{work_dir}" in result.output
    run = client.get_run(client.get_model_version("muzhang-disease", "1").run_id)
    assert run.data.tags["dropped_features"] == "heart_rate"
    assert run.data.tags["data_warnings"] == "2"
    assert run.data.tags["data_cutoff"] == "1999-12"  # the latest check: a health check has no county month
    importance = pd.read_csv(client.download_artifacts(run.info.run_id, "feature_importance.csv", str(work_dir)))
    assert "glucose_mmol_l" in set(importance["feature"]) and "heart_rate" not in set(importance["feature"])


def test_a_table_the_family_needs_is_named_when_missing(sandbox: tuple[Path, Any], tmp_path: Path) -> None:
    only_patients = tmp_path / "only_patients"
    only_patients.mkdir()
    (only_patients / "patients.csv").write_bytes((BYOD / "patients.csv").read_bytes())
    (only_patients / "catalog.yaml").write_bytes((BYOD / "catalog.yaml").read_bytes())

    result = CliRunner().invoke(app, ["train", "disease", "--data", str(only_patients)])

    assert result.exit_code == 2, result.output
    assert "nothing was trained" in result.output
    assert (
        "family disease needs this table: file missing (patient_outcomes.parquet or patient_outcomes.csv)"
        in result.output
    )


def test_glucose_reaches_the_model_and_carries_its_signal() -> None:
    """Same split, same seed: the hypertension model with the declared glucose beats the one without it on
    the test people (the example draws onset from glucose)."""
    catalog = catalog_for(BYOD)
    tables = load_county(BYOD, tables=catalog.tables_for("disease"), catalog=catalog)
    fs = build_features("disease", tables, catalog=catalog)
    auroc = {}
    for drop in ([], ["glucose_mmol_l"]):
        cfg = load_config(default_config_path("disease"), drop_features=drop, **{"lightgbm.num_threads": 1})
        result = train_family(fs, cfg)
        assert ("glucose_mmol_l" in result.bundle.encoder.features) == (not drop)
        auroc[bool(drop)] = result.metrics["hypertension_5y_auroc"]

    assert auroc[False] > auroc[True] + 0.2, auroc


def test_the_declared_condition_is_trained_with_its_horizon_and_named_in_answers() -> None:
    """diabetes_5y is declared in the example's catalog.yaml alone (horizon 5 years, names): the shipped
    experiment YAML trains it beside the four, the bundle carries its horizon and names, and an answer says
    them, with no code change."""
    catalog = catalog_for(BYOD)
    tables = load_county(BYOD, tables=catalog.tables_for("disease"), catalog=catalog)
    fs = build_features("disease", tables, catalog=catalog)
    assert "diabetes_5y" in fs.targets and "diabetes_5y" not in fs.features  # an outcome, never an input

    result = train_family(fs, load_config(default_config_path("disease"), **{"lightgbm.num_threads": 1}))

    bundle = result.bundle
    assert list(bundle.tasks) == [*CONDITIONS, "diabetes_5y"]
    assert bundle.thresholds["outcomes"]["diabetes_5y"] == {
        "horizon_years": 5.0,
        "display": "Diabetes",
        "display_zh": "糖尿病",
    }
    assert set(bundle.thresholds["condition_bands"]["diabetes_5y"]) >= {"medium", "high", "policy"}
    assert result.metrics["diabetes_5y_auroc"] > 0.7, result.metrics  # drawn from glucose, which the model reads
    term = condition_terms(bundle)["diabetes_5y"]
    assert headline("diabetes_5y", term, 0.4, "high", "en").startswith("Five-year risk of diabetes is high")
    assert headline("diabetes_5y", term, 0.4, "high", "zh").startswith("糖尿病5年风险")


def test_a_condition_the_data_lacks_is_refused_naming_the_yaml(sandbox: tuple[Path, Any], tmp_path: Path) -> None:
    raw = yaml.safe_load(default_config_path("disease").read_text(encoding="utf-8"))
    raw["thresholds"]["outcomes"]["influenza_1y"] = {"horizon_years": 1}
    config = tmp_path / "my_disease.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")

    result = CliRunner().invoke(app, ["train", "disease", "--data", str(BYOD), "--config", str(config)])

    assert result.exit_code == 1, result.output
    assert f"[disease] failed: {config}: thresholds.outcomes: 'influenza_1y' is no condition of the data" in (
        result.output
    )
    assert "diabetes_5y" in result.output  # the conditions it has are listed
