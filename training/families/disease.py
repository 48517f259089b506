"""Disease risk: one calibrated probability per condition, split by person (stratified).

The conditions are the outcome fields of the (extended) catalog (:func:`features.disease.conditions_of`).
Each carries its own band cut-offs, fitted on the validation rows from the policy in the experiment YAML
(``thresholds.bands``, or a condition's own ``thresholds.outcomes.<c>.bands``), and its horizon,
known-at-check input and display names (its catalog entry, overridden key by key by
``thresholds.outcomes.<c>``), all kept in the bundle (``thresholds.outcomes``) so serving needs no code
for a new condition.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features import FeatureSet, monotone_for_condition
from models.bundle import ModelBundle
from training.baselines import logistic_probabilities
from training.config import BandPolicyConfig, ConfigError, ExperimentConfig
from training.families.base import Family, TaskPlan
from training.splits import Split, rows_in_file, split_by_person, split_people_around_test_rows

OUTCOME_KEYS = ("horizon_years", "known_at_check", "display", "display_zh")  # read from a catalog entry
BANDS_KEY = "condition_bands"  # bundle.thresholds[BANDS_KEY][condition] = {"medium", "high", "policy", ...}
BANDS = ("low", "medium", "high")
MIN_GAP = 1e-4  # cut-offs stay strictly ordered inside (0, 1) whatever the validation rows hold


class DiseaseFamily(Family):
    name = "disease"

    def __init__(self) -> None:
        self.condition_bands: dict[str, dict[str, Any]] = {}
        self.conditions: dict[str, dict[str, Any]] | None = None

    def tasks(self, fs: FeatureSet, cfg: ExperimentConfig) -> list[TaskPlan]:
        self.conditions = condition_settings(fs, cfg)
        # Each condition gets the risk directions DOMAIN.md publishes for it (none for an added one).
        return [TaskPlan(t, t, "binary", unit="probability", monotone=monotone_for_condition(t)) for t in fs.targets]

    def thresholds(self, cfg: ExperimentConfig) -> dict[str, Any]:
        """The YAML's thresholds, with ``outcomes`` holding every condition's settings (catalog and YAML)."""
        out = super().thresholds(cfg)
        if self.conditions is not None:
            out["outcomes"] = self.conditions
        return out

    def split(self, fs: FeatureSet, cfg: ExperimentConfig) -> Split:
        # Stratify on how many conditions a person has, so rare outcomes land in every slice.
        strata = fs.frame[fs.targets].fillna(0).astype(int).sum(axis=1).clip(upper=2)
        if cfg.split.test_from is not None:
            raise ValueError("disease is split by person, not by time: hold people out with a test file instead")
        if cfg.split.test_file is not None:
            is_test = rows_in_file(fs.frame, fs.keys, cfg.split.test_file)
            return split_people_around_test_rows(strata, is_test, cfg.split.valid_share, cfg.seed)
        return split_by_person(strata, cfg.split.valid_share, cfg.split.test_share, cfg.seed)

    def calibrate(self, fs: FeatureSet, split: Split, bundle: ModelBundle) -> dict[str, Any]:
        """Each condition's band cut-offs from its policy, on the validation rows at risk of it."""
        policies = band_policies(bundle.thresholds, list(bundle.tasks))
        if not policies:
            return {}
        valid = fs.frame.iloc[split.valid]
        known = fs.frame.iloc[np.concatenate([split.train, split.valid])]
        x = bundle.encoder.encode(valid)
        out: dict[str, dict[str, Any]] = {}
        for condition, policy in policies.items():
            y = pd.to_numeric(valid[condition], errors="coerce").to_numpy(dtype=float)
            at_risk = np.isfinite(y)
            p = bundle.tasks[condition].point(x[at_risk])
            # A small table may have no case among its validation rows: the rate of every known row then.
            fallback = float(pd.to_numeric(known[condition], errors="coerce").mean())
            out[condition] = fit_band_cutoffs(policy, y[at_risk], p, fallback_rate=fallback)
        self.condition_bands = out
        return {BANDS_KEY: out}

    def extra_metrics(self, test: pd.DataFrame, preds: pd.DataFrame, cfg: ExperimentConfig) -> dict[str, float]:
        """Per condition, the share of people and of cases in each band on these rows (with the cut-offs
        this run fitted)."""
        out: dict[str, float] = {}
        for condition, cuts in self.condition_bands.items():
            column = f"p_{condition}"
            if column not in preds or condition not in test:
                continue
            y = pd.to_numeric(test[condition], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(y)
            bands = band_of(preds[column].to_numpy(dtype=float)[ok], cuts["medium"], cuts["high"])
            for band in BANDS:
                inside = bands == band
                out[f"{condition}_people_{band}"] = float(inside.mean()) if ok.any() else float("nan")
                cases = y[ok] == 1
                out[f"{condition}_cases_{band}"] = (
                    float((inside & cases).sum() / cases.sum()) if cases.any() else float("nan")
                )
        return out

    def baselines(
        self, fs: FeatureSet, split: Split, cfg: ExperimentConfig, features: list[str]
    ) -> dict[str, pd.DataFrame]:
        train, test = fs.frame.iloc[split.train], fs.frame.iloc[split.test]
        categorical = [f for f in features if f in fs.categorical]
        preds = {}
        for condition in fs.targets:
            at_risk = train[condition].notna()
            preds[f"p_{condition}"] = logistic_probabilities(
                train[at_risk], test, condition, features, categorical, cfg.seed
            )
        return {"logistic": pd.DataFrame(preds)}

    def oracle(self, fs: FeatureSet, split: Split, oracle: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
        table = oracle.get("patient_oracle")
        if table is None:
            return None
        test = fs.frame.iloc[split.test][["patient_id"]]
        return test.merge(table, on="patient_id", how="left").drop(columns="patient_id").reset_index(drop=True)


def condition_settings(fs: FeatureSet, cfg: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """Per condition of the data: its horizon, known-at-check input, display names and band policy, from
    its catalog entry (``fs.outcomes``) overridden key by key by ``thresholds.outcomes.<condition>``.

    Raises:
        ConfigError: naming the YAML key or catalog entry and the value, for a condition the data does not
            have (no such outcome field of ``patient_outcomes``), a known-at-check input that is no feature,
            or a condition whose horizon neither its catalog entry nor the YAML gives.
    """
    check_outcomes(cfg, fs)
    declared = cfg.thresholds.outcomes or {}
    out: dict[str, dict[str, Any]] = {}
    for condition in fs.targets:
        spec = fs.outcomes.get(condition) or {}
        merged = {k: spec[k] for k in OUTCOME_KEYS if spec.get(k) is not None}
        own = declared.get(condition)
        if own is not None:
            merged.update(own.model_dump(mode="json", exclude_none=True))
        known = merged.get("known_at_check")
        if known is not None and known not in fs.features:
            where = f"thresholds.outcomes.{condition}" if own and own.known_at_check else f"catalog field {condition}"
            raise ConfigError(f"{where}.known_at_check: {known!r} is not an input of the {fs.family} features")
        if merged.get("horizon_years") is None:
            raise ConfigError(
                f"thresholds.outcomes.{condition}.horizon_years: required (the years the risk of {condition} "
                f"covers, named in every answer); set it there or as horizon_years in the condition's catalog entry"
            )
        out[condition] = merged
    return out


def check_outcomes(cfg: ExperimentConfig, fs: FeatureSet) -> None:
    """Every condition the YAML configures is one the data has, and its known-at-check input a feature."""
    for condition, outcome in (cfg.thresholds.outcomes or {}).items():
        if condition not in fs.targets:
            raise ConfigError(
                f"thresholds.outcomes: {condition!r} is no condition of the data (an outcome field of "
                f"patient_outcomes in the catalog or the data's catalog.yaml); conditions: {', '.join(fs.targets)}"
            )
        if outcome.known_at_check is not None and outcome.known_at_check not in fs.features:
            raise ConfigError(
                f"thresholds.outcomes.{condition}.known_at_check: {outcome.known_at_check!r} is not an input "
                f"of the {fs.family} features"
            )


def band_policies(thresholds: dict[str, Any], conditions: list[str]) -> dict[str, BandPolicyConfig]:
    """Each condition's band policy: its own, else the family's ``bands``; none when neither is set."""
    default = thresholds.get("bands")
    outcomes = thresholds.get("outcomes") or {}
    out = {}
    for condition in conditions:
        own = (outcomes.get(condition) or {}).get("bands")
        chosen = own or default
        if chosen:
            out[condition] = BandPolicyConfig.model_validate(chosen)
    return out


def fit_band_cutoffs(
    policy: BandPolicyConfig, y: np.ndarray, p: np.ndarray, *, fallback_rate: float = float("nan")
) -> dict[str, Any]:
    """``medium`` and ``high`` probabilities from a policy, the outcome ``y`` and predictions ``p`` of the
    validation rows at risk; with the rate and policy they came from (plain JSON for the bundle).
    ``fallback_rate``: the rate to use when the validation rows hold no case (a small table)."""
    rate = float(np.mean(y)) if len(y) else float("nan")
    if policy.policy == "fixed":
        medium, high = policy.medium, policy.high
    elif policy.policy == "prevalence_multiple":
        if not (np.isfinite(rate) and rate > 0):
            rate = fallback_rate
        if not (np.isfinite(rate) and rate > 0):
            raise ConfigError("prevalence_multiple bands need at least one case of the condition in the data")
        medium, high = policy.medium * rate, policy.high * rate
    else:
        if len(p) == 0:
            raise ConfigError("referral_rate bands need validation rows")
        medium = float(np.quantile(p, 1 - policy.medium))
        high = float(np.quantile(p, 1 - policy.high))
    medium = float(min(max(medium, MIN_GAP), 1 - 2 * MIN_GAP))
    high = float(min(max(high, medium + MIN_GAP), 1 - MIN_GAP))
    return {
        "medium": medium,
        "high": high,
        "policy": policy.policy,
        "policy_medium": policy.medium,
        "policy_high": policy.high,
        "validation_rate": rate,
    }


def band_of(p: np.ndarray, medium: float, high: float) -> np.ndarray:
    """The band of each probability (low below ``medium``, high from ``high``)."""
    return np.where(p >= high, "high", np.where(p >= medium, "medium", "low"))
