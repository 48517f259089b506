"""Experiment YAML: validated when training starts, family names from the registry, typed thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from muzhang.domain import RiskBands
from muzhang.families import family_names, get_family
from training.config import ConfigError, default_config_path, load_config


def write(tmp_path: Path, change: dict[str, object], family: str = "dispute") -> Path:
    raw = yaml.safe_load(default_config_path(family).read_text(encoding="utf-8"))
    raw.update(change)
    path = tmp_path / f"{family}.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize("family", family_names())
def test_every_shipped_experiment_loads_and_names_its_family(family: str) -> None:
    cfg = load_config(default_config_path(family))
    assert cfg.family == family
    assert cfg.registered_model == get_family(family).registered_model


def test_risk_bands_are_typed_and_become_domain_bands() -> None:
    bands = load_config(default_config_path("dispute")).thresholds.risk_bands
    assert bands is not None
    assert bands.to_domain() == RiskBands(medium=0.10, high=0.25)


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"risk_band": {"medium": 0.1, "high": 0.2}}, "thresholds.risk_band: Extra inputs are not permitted"),
        ({"risk_bands": {"medium": 0.3, "high": 0.2}}, "medium (0.3) must be below high (0.2)"),
        ({"risk_bands": {"medium": 0.1, "hihg": 0.2}}, "thresholds.risk_bands.hihg"),
        ({"risk_bands": {"medium": 0.1, "high": 1.5}}, "thresholds.risk_bands.high"),
    ],
)
def test_a_bad_threshold_fails_when_the_config_loads(tmp_path: Path, thresholds: object, message: str) -> None:
    """Before: an untyped dict, so a typo failed only when the service answered."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, {"thresholds": thresholds}))
    assert message in str(err.value)


def test_an_unregistered_family_is_refused_naming_the_registered_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown family 'weather'; registered: grazing, market"):
        load_config(write(tmp_path, {"family": "weather"}))


def test_dotted_overrides_reach_nested_fields(tmp_path: Path) -> None:
    cfg = load_config(default_config_path("dispute"), **{"tuning.trials": 3, "gate.margin": 0.0, "seed": None})
    assert cfg.tuning.trials == 3 and cfg.gate.margin == 0.0 and cfg.seed == 42


def test_unreadable_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("family: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read experiment config"):
        load_config(path)


def test_candidates_default_to_every_kind_and_can_be_narrowed() -> None:
    path = default_config_path("disease")  # its YAML names none

    assert load_config(path).candidates == ["lightgbm", "glm", "classical"]
    assert load_config(path, candidates=["lightgbm"]).candidates == ["lightgbm"]
    # the GLM-trees hybrid is named, not default: dispute's YAML adds it
    assert load_config(default_config_path("dispute")).candidates == ["lightgbm", "glm", "hybrid"]


@pytest.mark.parametrize("candidates", [["xgboost"], []], ids=["unknown", "none"])
def test_an_unknown_or_empty_candidate_list_is_refused(candidates: list[str]) -> None:
    with pytest.raises(ConfigError, match="candidates"):
        load_config(default_config_path("dispute"), candidates=candidates)
