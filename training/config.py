"""Experiment configuration: one versioned YAML per family in ``experiments/``, validated on load."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from muzhang.domain import RiskBands
from muzhang.families import family_names, get_family

Direction = Literal["minimize", "maximize"]


class SplitConfig(BaseModel):
    """How held-out rows are chosen: the last months by time, or a share of people (stratified)."""

    model_config = ConfigDict(extra="forbid")
    valid_months: int = Field(12, ge=1, le=60)
    test_months: int = Field(12, ge=1, le=60)
    valid_share: float = Field(0.2, gt=0, lt=0.5)
    test_share: float = Field(0.2, gt=0, lt=0.5)
    # A test set the data scientist holds out instead of the last ``test_months`` (``muzhang train
    # --test-from / --test-file``; ``muzhang retrain`` after a detected shift): test = the rows from this
    # month on, validation = the ``valid_months`` before (families split by time) ...
    test_from: str | None = None
    # ... or exactly the rows a CSV of the family's key columns names (one row per line).
    test_file: Path | None = None

    @field_validator("test_from", mode="before")
    @classmethod
    def _a_month(cls, value: Any) -> str | None:
        if value is None:
            return None
        text = str(value).strip()
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])(-\d{2})?", text):
            raise ValueError(f"test_from must be a month YYYY-MM (or a date YYYY-MM-DD), got {value!r}")
        try:
            month = pd.Timestamp(text if len(text) > 7 else f"{text}-01")
        except ValueError as exc:
            raise ValueError(f"test_from {value!r} is no calendar date: {exc}") from None
        return f"{month:%Y-%m}"

    @field_validator("test_file")
    @classmethod
    def _a_file(cls, value: Path | None) -> Path | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"test_file {str(value)!r} is not a file")
        return value

    @model_validator(mode="after")
    def _one_test_choice(self) -> SplitConfig:
        if self.test_from is not None and self.test_file is not None:
            raise ValueError("give test_from or test_file, not both")
        return self


class SearchDim(BaseModel):
    """One Optuna search dimension."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["int", "float"]
    low: float
    high: float
    log: bool = False


class TuningConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trials: int = Field(0, ge=0, le=10_000)
    timeout_s: float | None = Field(None, gt=0)
    space: dict[str, SearchDim] = Field(default_factory=dict)


class GateMetric(BaseModel):
    """One further headline metric the gate checks: a candidate must beat its reference by ``margin``
    (0: at least as good)."""

    model_config = ConfigDict(extra="forbid")
    metric: str
    direction: Direction
    margin: float = Field(0.0, ge=0)


class GateConfig(BaseModel):
    """Promotion gate: the main metric a new model must beat, its direction and margin; every metric in
    ``also`` checked the same way; and the ``floors``, baselines a candidate must beat on every gate metric
    even when a champion exists (default: none then; every baseline for a first model)."""

    model_config = ConfigDict(extra="forbid")
    metric: str
    direction: Direction
    margin: float = Field(0.0, ge=0)
    also: list[GateMetric] = Field(default_factory=list)
    floors: list[str] | None = None

    def rules(self) -> list[GateMetric]:
        """Every metric the gate checks, the main one first."""
        main = GateMetric(metric=self.metric, direction=self.direction, margin=self.margin)
        return [main, *(m for m in self.also if m.metric != self.metric)]


class RiskBandsConfig(BaseModel):
    """Probability cut-offs of the bands shown to users: low < medium <= p < high <= p."""

    model_config = ConfigDict(extra="forbid")
    medium: float = Field(gt=0, lt=1)
    high: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> RiskBandsConfig:
        if not self.medium < self.high:
            raise ValueError(f"medium ({self.medium}) must be below high ({self.high})")
        return self

    def to_domain(self) -> RiskBands:
        return RiskBands(medium=self.medium, high=self.high)


class BandPolicyConfig(BaseModel):
    """How a task's band cut-offs are fitted on the validation rows when training ends.

    ``fixed``: ``medium`` and ``high`` are the probabilities themselves. ``prevalence_multiple``: multiples
    of the outcome's rate among the validation rows (medium 1.5, high 3: one and a half and three times the
    usual risk). ``referral_rate``: shares of the people the model applies to, ``high`` the share referred
    (high band) and ``medium`` the share at medium or above (so ``high`` < ``medium``).
    """

    model_config = ConfigDict(extra="forbid")
    policy: Literal["fixed", "prevalence_multiple", "referral_rate"]
    medium: float = Field(gt=0)
    high: float = Field(gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> BandPolicyConfig:
        if self.policy == "referral_rate":
            if not self.high < self.medium < 1:
                raise ValueError(
                    f"referral_rate needs high ({self.high}) < medium ({self.medium}) < 1 (shares of people)"
                )
        elif not self.medium < self.high:
            raise ValueError(f"medium ({self.medium}) must be below high ({self.high})")
        if self.policy == "fixed" and self.high >= 1:
            raise ValueError(f"fixed cut-offs are probabilities: high ({self.high}) must be below 1")
        return self


class OutcomeConfig(BaseModel):
    """One outcome of a family with several (disease conditions): what the answer says about it.

    ``horizon_years``: the time the risk covers (named in the answer). ``known_at_check``: the input that
    records the outcome as already present at the check; such a person gets no risk of it. ``bands``: this
    outcome's own band policy instead of ``thresholds.bands``. ``display`` / ``display_zh``: its name in
    answers (without the horizon). Each key left out comes from the outcome's catalog entry, if it has one.
    """

    model_config = ConfigDict(extra="forbid")
    horizon_years: float | None = Field(default=None, gt=0, le=100)
    known_at_check: str | None = None
    bands: BandPolicyConfig | None = None
    display: str | None = None
    display_zh: str | None = None


class ThresholdsConfig(BaseModel):
    """Decision thresholds a trained model carries into serving (checked when training starts).

    ``risk_bands``: one fixed pair for every task; ``bands``: a policy fitted per task on the validation
    rows (it wins over ``risk_bands`` where a family supports it); ``outcomes``: per-outcome settings.
    """

    model_config = ConfigDict(extra="forbid")
    risk_bands: RiskBandsConfig | None = None
    bands: BandPolicyConfig | None = None
    outcomes: dict[str, OutcomeConfig] | None = None


CandidateKind = Literal["lightgbm", "glm", "classical", "hybrid"]
DEFAULT_CANDIDATES: tuple[CandidateKind, ...] = ("lightgbm", "glm", "classical")


class ExperimentConfig(BaseModel):
    """Everything one training run of a family does."""

    model_config = ConfigDict(extra="forbid")
    family: str
    registered_model: str
    description: str = ""
    features: list[str] | None = None  # None: every feature the builder declares
    drop_features: list[str] = Field(default_factory=list)
    split: SplitConfig = Field(default_factory=SplitConfig)  # type: ignore[arg-type]
    lightgbm: dict[str, Any]
    num_boost_round: int = Field(600, ge=1, le=20_000)
    early_stopping_rounds: int = Field(50, ge=1)
    quantiles: list[float] = Field(default_factory=list)
    # Classical per-series forecasters fitted beside the model as peers (market: mstl, autoets, autotheta).
    peers: list[Literal["mstl", "autoets", "autotheta"]] = Field(default_factory=list)
    # The kinds of model that compete on validation for each task (those that do not apply to a task's kind
    # are skipped: glm and hybrid for probabilities, classical for forecasts with a classical base). A data
    # scientist may narrow them, e.g. to LightGBM alone. "hybrid": LightGBM boosted from the GLM's log-odds
    # (models.linear.GlmTreeBooster); named, not default.
    candidates: list[CandidateKind] = Field(default_factory=lambda: list(DEFAULT_CANDIDATES), min_length=1)
    tuning: TuningConfig = Field(default_factory=TuningConfig)  # type: ignore[arg-type]
    gate: GateConfig
    thresholds: ThresholdsConfig = Field(default_factory=ThresholdsConfig)
    # Binary tasks: recalibrate the level (one log-odds offset) on this many most recent closed months
    # (models.recent_level); on test rows rolled month by month, in serving refitted as months close.
    # None: the validation year's calibration alone.
    recent_level_months: int | None = Field(None, ge=1, le=36)
    seed: int = 42
    # Read by serving.monitoring (live metrics, drift, retrain triggers; issue 11), not by training.
    monitoring: dict[str, Any] = Field(default_factory=dict)

    @field_validator("family")
    @classmethod
    def _registered(cls, family: str) -> str:
        if family not in family_names():
            raise ValueError(f"unknown family {family!r}; registered: {', '.join(family_names())}")
        return family


class ConfigError(ValueError):
    """A YAML file that cannot be read or does not match :class:`ExperimentConfig`."""


def default_config_path(family: str) -> Path:
    """The family's experiment YAML, as its registry entry names it."""
    return get_family(family).experiment_path


def load_config(path: Path, **overrides: Any) -> ExperimentConfig:
    """Read a family YAML and apply command-line overrides (``None`` values are ignored).

    Overrides use dotted keys for nested fields, e.g. ``{"tuning.trials": 20, "seed": 7}``.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read experiment config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}{given(e)}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc


def given(error: Any) -> str:
    """`` (got VALUE)`` for a value that broke a rule (not for a missing key or a whole section)."""
    value = error.get("input")
    if error.get("type") == "missing" or isinstance(value, dict | list):
        return ""
    return f" (got {value!r})"
