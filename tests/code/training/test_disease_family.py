"""Disease family: band cut-offs per condition from the YAML policy, fitted on validation rows; conditions
known at the check (issue 13, item 7)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from features import FeatureSet
from training.config import BandPolicyConfig, ConfigError, ExperimentConfig, OutcomeConfig
from training.families.disease import band_of, band_policies, check_outcomes, fit_band_cutoffs


def test_prevalence_multiple_puts_the_cutoffs_at_multiples_of_the_validation_rate() -> None:
    y = np.array([1.0] * 5 + [0.0] * 95)
    cuts = fit_band_cutoffs(BandPolicyConfig(policy="prevalence_multiple", medium=1.5, high=3), y, np.full(100, 0.05))
    assert math.isclose(cuts["medium"], 0.075) and math.isclose(cuts["high"], 0.15)
    assert cuts["validation_rate"] == 0.05 and cuts["policy"] == "prevalence_multiple"


def test_referral_rate_bands_hold_the_chosen_shares_of_people() -> None:
    p = np.linspace(0.001, 0.5, 1000)
    cuts = fit_band_cutoffs(BandPolicyConfig(policy="referral_rate", high=0.05, medium=0.15), np.zeros(1000), p)
    bands = band_of(p, cuts["medium"], cuts["high"])
    assert abs((bands == "high").mean() - 0.05) <= 0.002
    assert abs((bands != "low").mean() - 0.15) <= 0.002


def test_cutoffs_stay_ordered_inside_zero_and_one_for_a_common_outcome() -> None:
    y = np.array([1.0] * 60 + [0.0] * 40)  # rate 0.6: 1.5x and 3x would pass 1
    cuts = fit_band_cutoffs(BandPolicyConfig(policy="prevalence_multiple", medium=1.5, high=3), y, np.full(100, 0.6))
    assert 0 < cuts["medium"] < cuts["high"] < 1


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"policy": "referral_rate", "high": 0.2, "medium": 0.1}, "high (0.2) < medium (0.1)"),
        ({"policy": "prevalence_multiple", "medium": 3, "high": 1.5}, "medium (3.0) must be below high"),
        ({"policy": "fixed", "medium": 0.1, "high": 1.2}, "must be below 1"),
    ],
)
def test_an_inconsistent_policy_is_refused_when_the_config_loads(policy: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re_escape(message)):
        BandPolicyConfig.model_validate(policy)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_a_condition_policy_wins_over_the_family_policy() -> None:
    thresholds = {
        "bands": {"policy": "prevalence_multiple", "medium": 1.5, "high": 3.0},
        "outcomes": {"cms_5y": {"bands": {"policy": "referral_rate", "high": 0.05, "medium": 0.15}}},
    }
    policies = band_policies(thresholds, ["echinococcosis", "cms_5y"])
    assert policies["echinococcosis"].policy == "prevalence_multiple"
    assert policies["cms_5y"].policy == "referral_rate"


def test_trained_bundle_carries_cutoffs_that_differ_per_condition_per_the_yaml(trained_results: dict[str, Any]) -> None:
    result = trained_results["disease"]
    fitted = result.bundle.thresholds["condition_bands"]
    assert set(fitted) == set(result.bundle.tasks)
    for cuts in fitted.values():
        assert cuts["policy"] == "prevalence_multiple"
        assert 0 < cuts["medium"] < cuts["high"] < 1
        assert math.isclose(cuts["medium"], 1.5 * cuts["validation_rate"], rel_tol=1e-9)
        assert math.isclose(cuts["high"], 3.0 * cuts["validation_rate"], rel_tol=1e-9)
    assert len({round(c["medium"], 6) for c in fitted.values()}) == len(fitted), "one pair for every condition"
    outcomes = result.bundle.thresholds["outcomes"]
    assert outcomes["hypertension_5y"]["known_at_check"] == "baseline_hypertension"
    assert all(o["horizon_years"] == 5 for o in outcomes.values())


def test_test_metrics_report_people_and_cases_per_band_per_condition(trained_results: dict[str, Any]) -> None:
    metrics = trained_results["disease"].metrics
    for condition in trained_results["disease"].bundle.tasks:
        people = [metrics[f"{condition}_people_{b}"] for b in ("low", "medium", "high")]
        assert math.isclose(sum(people), 1.0)
        cases = [metrics[f"{condition}_cases_{b}"] for b in ("low", "medium", "high")]
        assert all(math.isnan(c) for c in cases) or math.isclose(sum(cases), 1.0)


def test_conditions_known_at_the_check_are_inputs(tiny_feature_sets: dict[str, FeatureSet]) -> None:
    assert {"baseline_hypertension", "baseline_cms"} <= set(tiny_feature_sets["disease"].features)


def test_outcomes_the_data_does_not_have_are_refused(
    tiny_feature_sets: dict[str, FeatureSet], fast_config: Any
) -> None:
    cfg: ExperimentConfig = fast_config("disease")
    fs = tiny_feature_sets["disease"]
    unknown = cfg.thresholds.model_copy(update={"outcomes": {"influenza": OutcomeConfig(horizon_years=1)}})
    with pytest.raises(ConfigError, match="'influenza' is no condition of the data"):
        check_outcomes(cfg.model_copy(update={"thresholds": unknown}), fs)
    bad_input = cfg.thresholds.model_copy(update={"outcomes": {"cms_5y": OutcomeConfig(known_at_check="cms_flag")}})
    with pytest.raises(ConfigError, match="'cms_flag' is not an input"):
        check_outcomes(cfg.model_copy(update={"thresholds": bad_input}), dataclasses.replace(fs))


def test_no_case_among_validation_rows_falls_back_to_the_rate_of_all_known_rows() -> None:
    policy = BandPolicyConfig(policy="prevalence_multiple", medium=1.5, high=3)
    cuts = fit_band_cutoffs(policy, np.zeros(40), np.full(40, 0.02), fallback_rate=0.04)
    assert math.isclose(cuts["medium"], 0.06) and math.isclose(cuts["high"], 0.12)
    with pytest.raises(ConfigError, match="at least one case"):
        fit_band_cutoffs(policy, np.zeros(40), np.full(40, 0.02))
