"""Unit tests of the promotion gate's rule (training/gate.py): plain metrics in, a decision out."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import pytest

from training.config import GateConfig
from training.gate import GateDecision, check_gate_metric, decide_promotion

NAN = math.nan
BRIER = GateConfig(metric="brier", direction="minimize", margin=0.001)
AUROC = GateConfig(metric="auroc", direction="maximize", margin=0.01)
BASELINES = {
    "climatology": {"brier": 0.120, "auroc": 0.50},
    "logistic": {"brier": 0.100, "auroc": 0.70},
}


def test_gate_module_is_pure() -> None:
    """No MLflow (nor anything slow) behind the rule: importing it must not import mlflow."""
    code = "import sys, training.gate; sys.exit(1 if 'mlflow' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0


@pytest.mark.parametrize(
    ("brier", "promoted"),
    [(0.090, True), (0.0995, False), (0.110, False), (0.130, False)],
    ids=["beats-all", "within-margin-of-best", "beats-one-only", "beats-none"],
)
def test_first_model_must_beat_every_baseline(brier: float, promoted: bool) -> None:
    decision = decide_promotion(BRIER, {"brier": brier}, BASELINES)
    assert decision.promoted is promoted
    assert decision.reference_kind == "baseline logistic"  # the strongest one is the reference
    assert decision.reference == 0.100
    assert decision.note.startswith("first model:")


def test_first_model_ignores_baselines_without_the_metric() -> None:
    baselines = {**BASELINES, "seasonal": {"mae": 3.0}}
    assert decide_promotion(BRIER, {"brier": 0.05}, baselines).promoted


@pytest.mark.parametrize(
    ("gate", "candidate", "champion", "promoted"),
    [
        (BRIER, 0.0980, 0.1000, True),  # minimize: lower by more than the margin
        (BRIER, 0.0995, 0.1000, False),  # lower, but by less than the margin
        (BRIER, 0.1010, 0.1000, False),  # worse
        (AUROC, 0.82, 0.80, True),  # maximize: higher by more than the margin
        (AUROC, 0.805, 0.80, False),
        (AUROC, 0.78, 0.80, False),
    ],
)
def test_challenger_must_beat_champion_by_margin(
    gate: GateConfig, candidate: float, champion: float, promoted: bool
) -> None:
    decision = decide_promotion(gate, {gate.metric: candidate}, BASELINES, champion, "champion v3")
    expected = GateDecision(
        promoted,
        gate.metric,
        candidate,
        champion,
        "champion v3",
        decision.note,
        candidate_scores={gate.metric: candidate},
        champion_scores={gate.metric: champion},
    )
    assert decision == expected, decision
    assert ("does not beat" in decision.note) is not promoted
    assert "champion v3" in decision.note


def test_champion_score_decides_even_if_baselines_are_better() -> None:
    """With a champion the baselines play no part: it already beat them on its day."""
    assert decide_promotion(BRIER, {"brier": 0.20}, BASELINES, 0.25, "champion v1").promoted


@pytest.mark.parametrize("gate", [BRIER, AUROC], ids=["minimize", "maximize"])
def test_equal_to_champion_is_not_promoted_with_a_margin(gate: GateConfig) -> None:
    assert not decide_promotion(gate, {gate.metric: 0.1}, BASELINES, 0.1, "champion v1").promoted


@pytest.mark.parametrize("gate", [BRIER, AUROC], ids=["minimize", "maximize"])
def test_equal_to_champion_is_promoted_with_margin_zero(gate: GateConfig) -> None:
    """Margin 0 means "at least as good": the newer model takes over a tie."""
    zero = gate.model_copy(update={"margin": 0.0})
    assert decide_promotion(zero, {gate.metric: 0.1}, BASELINES, 0.1, "champion v1").promoted


def test_unknown_gate_metric_raises_naming_the_metric() -> None:
    gate = GateConfig(metric="nosuch", direction="minimize")
    with pytest.raises(ValueError, match="'nosuch'"):
        decide_promotion(gate, {"brier": 0.1}, BASELINES, 0.2, "champion v1")
    with pytest.raises(ValueError, match=r"'nosuch'.*brier"):
        check_gate_metric(gate, {"brier": 0.1}, BASELINES, "dispute")


def test_gate_metric_no_baseline_computes_raises_naming_it_and_the_choices() -> None:
    gate = GateConfig(metric="ece", direction="minimize")
    with pytest.raises(ValueError, match=r"'ece'.*baseline.*auroc, brier"):
        check_gate_metric(gate, {"ece": 0.01, "brier": 0.1}, BASELINES, "dispute")
    with pytest.raises(ValueError, match="'ece'"):
        decide_promotion(gate, {"ece": 0.01}, BASELINES)  # a first model could not be judged


def test_check_gate_metric_accepts_a_known_metric() -> None:
    check_gate_metric(BRIER, {"brier": 0.1}, BASELINES, "dispute")


@pytest.mark.parametrize(
    ("gate", "champion"),
    [(BRIER, 0.5), (BRIER, None), (AUROC, 0.1), (AUROC, None), (BRIER, NAN)],
    ids=["vs-champion-min", "first-min", "vs-champion-max", "first-max", "vs-nan-champion"],
)
def test_nan_candidate_is_never_promoted(gate: GateConfig, champion: float | None) -> None:
    zero = gate.model_copy(update={"margin": 0.0})
    decision = decide_promotion(zero, {gate.metric: NAN}, BASELINES, champion, "champion v1")
    assert not decision.promoted


def test_champion_that_scores_nan_loses_to_a_finite_candidate() -> None:
    assert decide_promotion(BRIER, {"brier": 0.3}, BASELINES, NAN, "champion v1").promoted


def test_unknown_direction_raises() -> None:
    gate = GateConfig.model_construct(metric="brier", direction="sideways", margin=0.0)
    with pytest.raises(ValueError, match="sideways"):
        decide_promotion(gate, {"brier": 0.1}, BASELINES, 0.2, "champion v1")


# Market-like gate: scaled pinball is the main metric, MASE must not get worse, seasonal naive is a floor.
MARKET = GateConfig(
    metric="spl",
    direction="minimize",
    margin=0.005,
    also=[{"metric": "mase", "direction": "minimize", "margin": 0.0}],
    floors=["seasonal_naive"],
)
MARKET_BASELINES = {"seasonal_naive": {"spl": 0.20, "mase": 0.80}, "mstl": {"spl": 0.14, "mase": 0.55}}


def test_gate_rules_list_the_main_metric_first_then_the_others() -> None:
    assert [r.metric for r in MARKET.rules()] == ["spl", "mase"]
    assert [r.metric for r in BRIER.rules()] == ["brier"]


def test_first_model_better_on_pinball_but_worse_than_seasonal_naive_on_mase_is_refused() -> None:
    """The issue's case: a model promoted on pinball alone although its MASE (2.89) was worse than
    seasonal naive (2.53)."""
    decision = decide_promotion(MARKET, {"spl": 0.15, "mase": 2.89}, MARKET_BASELINES)
    assert not decision.promoted
    assert "fails mase 2.89 vs baseline seasonal_naive 0.8" in decision.note


def test_first_model_judged_against_the_floors_only_when_the_gate_names_them() -> None:
    """Peers stay beside the model in the reports; the floor (seasonal naive) decides a first model."""
    decision = decide_promotion(MARKET, {"spl": 0.16, "mase": 0.60}, MARKET_BASELINES)
    assert decision.promoted
    assert decision.reference_kind == "baseline seasonal_naive"


def test_first_model_without_floors_must_beat_every_baseline_on_every_metric() -> None:
    gate = MARKET.model_copy(update={"floors": None})
    assert not decide_promotion(gate, {"spl": 0.10, "mase": 0.60}, MARKET_BASELINES).promoted  # mase > mstl
    assert decide_promotion(gate, {"spl": 0.10, "mase": 0.50}, MARKET_BASELINES).promoted


@pytest.mark.parametrize(
    ("candidate", "promoted"),
    [
        ({"spl": 0.150, "mase": 0.60}, True),  # better on both
        ({"spl": 0.150, "mase": 0.62}, False),  # better pinball, worse MASE than the champion
        ({"spl": 0.158, "mase": 0.50}, False),  # pinball better by less than the margin
        ({"spl": 0.150, "mase": 0.85}, False),  # beats a weak champion but is worse than the floor on MASE
    ],
    ids=["better-on-both", "worse-mase", "within-margin", "under-the-floor"],
)
def test_challenger_must_pass_every_gate_metric_and_every_floor(candidate: dict[str, float], promoted: bool) -> None:
    champion = {"spl": 0.160, "mase": 0.61 if candidate["mase"] < 0.8 else 0.95}
    decision = decide_promotion(MARKET, candidate, MARKET_BASELINES, champion, "champion v2")
    assert decision.promoted is promoted, decision.note
    assert decision.reference_kind == "champion v2"
    assert decision.reference == 0.160


def test_floor_that_is_no_baseline_is_refused_before_training_is_logged() -> None:
    gate = MARKET.model_copy(update={"floors": ["naive2"]})
    with pytest.raises(ValueError, match=r"naive2.*mstl, seasonal_naive"):
        check_gate_metric(gate, {"spl": 0.1, "mase": 0.5}, MARKET_BASELINES, "market")


def test_every_gate_metric_must_be_a_metric_of_the_model() -> None:
    with pytest.raises(ValueError, match="'mase'"):
        check_gate_metric(MARKET, {"spl": 0.1}, MARKET_BASELINES, "market")


def test_the_gate_keeps_its_numbers_as_data_beside_the_note() -> None:
    """What `muzhang retrain` stores (retrain_decisions.gate_metrics) and the monitoring reads: every gate metric
    of the candidate and of the champion, JSON-ready (a NaN is None), no words to parse."""
    champion = {"spl": 0.160, "mase": NAN}
    decision = decide_promotion(MARKET, {"spl": 0.150, "mase": 0.60}, MARKET_BASELINES, champion, "champion v2")
    record = replace(decision, champion_version="2").gate_metrics()
    assert record == {
        "metric": "spl",
        "candidate": {"spl": 0.150, "mase": 0.60},
        "champion": {"spl": 0.160, "mase": None},
        "champion_version": "2",
    }
    json.dumps(record, allow_nan=False)  # strict JSON
    first = decide_promotion(MARKET, {"spl": 0.16, "mase": 0.60}, MARKET_BASELINES).gate_metrics()
    assert first["champion"] is None and first["champion_version"] is None
    assert first["candidate"] == {"spl": 0.16, "mase": 0.60}
