"""A disease condition is declared, not coded: a boolean field of ``patient_outcomes`` in a catalog
extension (with its horizon and known-at-check input) or a key of ``thresholds.outcomes`` in the experiment
YAML. A bad declaration is refused with a message naming the file, the field and the value."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from features import FeatureSet
from features.disease import CONDITIONS, conditions_of
from muzhang.catalog import CatalogExtensionError, catalog_for
from training.config import ConfigError, ExperimentConfig, default_config_path, load_config
from training.families.disease import condition_settings

DIABETES = {
    "name": "diabetes_5y",
    "type": "boolean",
    "tables": ["patient_outcomes"],
    "families": ["disease"],
    "horizon_years": 5,
    "display": "Diabetes",
    "display_zh": "糖尿病",
}


def extension(folder: Path, **changes: object) -> Path:
    path = folder / "catalog.yaml"
    path.write_text(yaml.safe_dump({"fields": [{**DIABETES, **changes}]}, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_conditions_are_the_catalogs_outcomes_and_an_extension_adds_one(tmp_path: Path) -> None:
    assert list(conditions_of()) == list(CONDITIONS)

    added = conditions_of(catalog_for(tmp_path, extension(tmp_path, known_at_check="baseline_hypertension")))

    assert list(added) == [*CONDITIONS, "diabetes_5y"]
    assert added["diabetes_5y"]["horizon_years"] == 5
    assert added["diabetes_5y"]["known_at_check"] == "baseline_hypertension"
    assert (added["diabetes_5y"]["display"], added["diabetes_5y"]["display_zh"]) == ("Diabetes", "糖尿病")


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"horizon_years": 0}, ["diabetes_5y", "horizon_years", "got 0"]),
        ({"horizon_years": -5}, ["diabetes_5y", "horizon_years", "got -5"]),
        ({"known_at_check": "baseline_diabetes"}, ["diabetes_5y", "known_at_check", "'baseline_diabetes'"]),
        ({"type": "float"}, ["diabetes_5y", "horizon_years", "boolean"]),
    ],
)
def test_a_bad_condition_in_the_catalog_names_file_field_and_value(
    tmp_path: Path, changes: dict[str, object], named: list[str]
) -> None:
    path = extension(tmp_path, **changes)

    with pytest.raises(CatalogExtensionError) as error:
        catalog_for(tmp_path)

    assert str(error.value).startswith(str(path)), error.value
    assert all(word in str(error.value) for word in named), error.value


def test_a_bad_horizon_in_the_experiment_yaml_names_file_field_and_value(tmp_path: Path) -> None:
    raw = yaml.safe_load(default_config_path("disease").read_text(encoding="utf-8"))
    raw["thresholds"]["outcomes"]["diabetes_5y"] = {"horizon_years": -5}
    path = tmp_path / "my_disease.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")

    with pytest.raises(ConfigError) as error:
        load_config(path)

    message = str(error.value)
    assert message.startswith(str(path)), message
    assert "thresholds.outcomes.diabetes_5y.horizon_years" in message and "(got -5)" in message, message


def test_the_yaml_overrides_a_catalog_entry_key_by_key(
    tiny_feature_sets: dict[str, FeatureSet], fast_config: Any
) -> None:
    cfg: ExperimentConfig = fast_config("disease")
    catalog_entry = {"horizon_years": 3.0, "display": "CMS", "display_zh": "高原病", "zh": "not a setting"}
    fs = replace(tiny_feature_sets["disease"], outcomes={"cms_5y": catalog_entry})

    settings = condition_settings(fs, cfg)

    # horizon and known-at-check from experiments/disease.yaml, whose display names win too; keys that are
    # no condition setting (zh) stay out
    assert settings["cms_5y"] == {
        "horizon_years": 5.0,
        "known_at_check": "baseline_cms",
        "display": "Chronic mountain sickness",
        "display_zh": "慢性高原病",
    }
    bare = cfg.model_copy(update={"thresholds": cfg.thresholds.model_copy(update={"outcomes": None})})
    only_cms = replace(fs, targets=["cms_5y"])
    expected = {"cms_5y": {"horizon_years": 3.0, "display": "CMS", "display_zh": "高原病"}}
    assert condition_settings(only_cms, bare) == expected


def test_a_catalog_known_at_check_that_is_no_input_is_named(
    tiny_feature_sets: dict[str, FeatureSet], fast_config: Any
) -> None:
    cfg: ExperimentConfig = fast_config("disease")
    bare = cfg.model_copy(update={"thresholds": cfg.thresholds.model_copy(update={"outcomes": None})})
    fs = replace(
        tiny_feature_sets["disease"],
        targets=["cms_5y"],
        outcomes={"cms_5y": {"horizon_years": 5, "known_at_check": "check_date"}},
    )

    with pytest.raises(ConfigError, match=r"catalog field cms_5y\.known_at_check: 'check_date' is not an input"):
        condition_settings(fs, bare)


def test_a_condition_added_without_its_horizon_is_refused_naming_it_and_the_rule(tmp_path: Path) -> None:
    """Issue 13: "each condition's horizon named". A condition trained without one would be answered as a
    bare "risk"; the extension that declares it is refused, before any data is read."""
    entry = {k: v for k, v in DIABETES.items() if k != "horizon_years"}
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"fields": [entry]}, allow_unicode=True), encoding="utf-8")

    with pytest.raises(CatalogExtensionError) as error:
        catalog_for(tmp_path)

    message = str(error.value)
    assert message.startswith(f"{path}: fields.diabetes_5y.horizon_years: required for a condition"), message
    assert "patient_outcomes" in message and "the years its risk covers" in message, message
    # a known-at-check input says who has it already; the others still get an onset risk over some horizon
    path.write_text(
        yaml.safe_dump({"fields": [{**entry, "known_at_check": "baseline_hypertension"}]}), encoding="utf-8"
    )
    with pytest.raises(CatalogExtensionError, match=r"diabetes_5y\.horizon_years: required"):
        catalog_for(tmp_path)
    # a boolean that is no outcome (a patients' field) needs no horizon
    flag = {**entry, "name": "smoker", "tables": ["patients"]}
    path.write_text(yaml.safe_dump({"fields": [flag]}), encoding="utf-8")
    assert catalog_for(tmp_path).field("smoker").horizon_years is None


def test_a_condition_whose_horizon_neither_catalog_nor_yaml_gives_is_refused_before_training(
    tiny_feature_sets: dict[str, FeatureSet], fast_config: Any
) -> None:
    cfg: ExperimentConfig = fast_config("disease")
    outcomes = dict(cfg.thresholds.outcomes or {})
    outcomes["brucellosis"] = outcomes["brucellosis"].model_copy(update={"horizon_years": None})
    no_horizon = cfg.model_copy(update={"thresholds": cfg.thresholds.model_copy(update={"outcomes": outcomes})})
    fs = replace(tiny_feature_sets["disease"], outcomes={})

    with pytest.raises(ConfigError, match=r"thresholds\.outcomes\.brucellosis\.horizon_years: required"):
        condition_settings(fs, no_horizon)
    assert condition_settings(fs, cfg)["brucellosis"]["horizon_years"] == 5
