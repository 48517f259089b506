"""Retrain triggers (issue 11): each fires on its own evidence and stays quiet without it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from serving.monitoring.policy import (
    MonitoringPolicy,
    PolicyError,
    RetrainPolicy,
    drift_trigger,
    metric_trigger,
    months_between,
    months_since_training,
    months_trigger,
    new_evidence,
    read_policy,
    recent_split,
    reference_metrics,
    retrain_triggers,
)


def live(values: list[tuple[str, float, float, float]], metric: str = "brier", n: int = 400) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"metric": metric, "target_period": pd.Timestamp(m), "value": v, "low": lo, "high": hi, "n": n}
            for m, v, lo, hi in values
        ]
    )


RULES = RetrainPolicy(metric="brier", tolerance=0.1, months_in_a_row=2, min_rows=30)
TEST = {"brier": 0.06}


def test_metric_trigger_fires_when_the_last_months_are_all_worse_beyond_their_intervals() -> None:
    worse = live([("2025-01-01", 0.09, 0.08, 0.10), ("2025-02-01", 0.095, 0.085, 0.11)])
    reason = metric_trigger(RULES, worse, TEST)
    assert reason is not None and "brier" in reason and "2025-02" in reason and "0.06" in reason


@pytest.mark.parametrize(
    "rows",
    [
        [("2025-01-01", 0.09, 0.08, 0.10), ("2025-02-01", 0.07, 0.05, 0.09)],  # the last month's interval holds test
        [("2025-02-01", 0.09, 0.08, 0.10)],  # one month only, two in a row asked
        [("2025-01-01", 0.066, 0.0645, 0.07), ("2025-02-01", 0.066, 0.0645, 0.07)],  # within the 10 % tolerance
    ],
)
def test_metric_trigger_stays_quiet_without_evidence(rows: list[tuple[str, float, float, float]]) -> None:
    assert metric_trigger(RULES, live(rows), TEST) is None


def test_metric_trigger_needs_enough_outcomes_and_a_test_value() -> None:
    worse = [("2025-01-01", 0.09, 0.08, 0.10), ("2025-02-01", 0.095, 0.085, 0.11)]
    assert metric_trigger(RULES, live(worse, n=10), TEST) is None
    assert metric_trigger(RULES, live(worse), {}) is None
    assert metric_trigger(RetrainPolicy(metric=None), live(worse), TEST) is None


def drift(statuses: list[str], prediction: str = "stable") -> pd.DataFrame:
    rows = [{"what": f"f{i}", "target": "feature", "status": s, "psi": 0.5, "ks": 0.4} for i, s in enumerate(statuses)]
    rows.append({"what": "p", "target": "prediction", "status": prediction, "psi": 0.6, "ks": 0.5})
    return pd.DataFrame(rows)


def test_drift_trigger_fires_on_a_share_of_features_or_on_the_predictions() -> None:
    rules = RetrainPolicy(drifted_share=0.5, prediction_drift=True)
    assert drift_trigger(rules, drift(["drifted", "drifted", "stable", "watch"]))[0].startswith("drift: 2 of 4")
    assert drift_trigger(rules, drift(["drifted", "stable", "stable", "watch"])) == []
    assert "predictions of p drifted" in drift_trigger(rules, drift(["stable"], prediction="drifted"))[0]
    assert drift_trigger(RetrainPolicy(drifted_share=None, prediction_drift=False), drift(["drifted"], "drifted")) == []


def test_months_trigger_counts_closed_months_since_the_training_data() -> None:
    assert months_between(pd.Timestamp("2024-12-01"), pd.Timestamp("2025-12-01")) == 12
    assert months_between(None, pd.Timestamp("2025-12-01")) is None
    rules = RetrainPolicy(new_months=12)
    assert months_trigger(rules, 12) is not None and months_trigger(rules, 11) is None
    assert months_trigger(RetrainPolicy(new_months=None), 100) is None and months_trigger(rules, None) is None


def test_no_evidence_no_trigger_and_every_trigger_is_listed() -> None:
    policy = MonitoringPolicy(retrain=RULES)
    assert retrain_triggers(policy, live([]), TEST, drift(["stable"]), 1) == []
    worse = live([("2025-01-01", 0.09, 0.08, 0.10), ("2025-02-01", 0.095, 0.085, 0.11)])
    fired = retrain_triggers(policy, worse, TEST, drift(["drifted"], "drifted"), 12)
    assert len(fired) == 4  # live metric, features, predictions, months


def test_after_a_detected_shift_the_gate_judges_on_the_recent_months_and_only_then() -> None:
    policy = MonitoringPolicy(retrain=RetrainPolicy(metric="brier", recent_months=3, new_months=12))
    worse = live([("2025-08-01", 0.09, 0.08, 0.10), ("2025-09-01", 0.095, 0.085, 0.11)])
    fired = retrain_triggers(policy, worse, TEST, drift(["drifted"], "drifted"), 12)
    last = pd.Timestamp("2025-09-01")
    assert recent_split(policy.retrain, fired, last) == {"split.test_from": "2025-07", "split.valid_months": 3}
    for shift in fired[:-1]:  # the live metric alone, or drift alone, is a shift
        assert recent_split(policy.retrain, [shift], last)["split.test_from"] == "2025-07"
    months_only = [t for t in fired if t[0].isdigit()]
    assert len(months_only) == 1 and recent_split(policy.retrain, months_only, last) == {}  # time alone: usual split
    assert recent_split(RetrainPolicy(recent_months=None), fired, last) == {}
    assert recent_split(policy.retrain, fired, None) == {}
    assert (
        recent_split(RetrainPolicy(recent_months=12), fired, pd.Timestamp("2026-01-01"))["split.test_from"] == "2025-02"
    )


def test_every_shipped_experiment_has_a_readable_policy() -> None:
    from muzhang.families import family_specs

    for spec in family_specs():
        read_policy(spec.experiment_path)


def test_a_bad_policy_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("monitoring:\n  retrain:\n    months_in_a_row: 0\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"x.yaml: monitoring.retrain.months_in_a_row"):
        read_policy(path)
    path.write_text("monitoring:\n  retrain:\n    metric: coverage_80\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="no better direction"):
        read_policy(path)


def decisions(*rows: tuple[str, str, list[str], str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"version": v, "action": a, "triggers": t, "champion_before": b} for v, a, t, b in rows],
        columns=["version", "action", "triggers", "champion_before"],
    )


def test_a_version_promoted_after_a_shift_is_held_to_the_reference_before_the_shift() -> None:
    """Market after its shock: version 3 was judged on three shocked months (test spl 1.18), so its own test
    value would let a live 0.4 pass; held to the better of its own and version 1's (the usual split: 0.165),
    0.4 is worse again. Versions retrained on time alone, or without a recent window, keep their own."""
    tests = {
        "1": {"spl": 0.165, "auroc": 0.7},
        "2": {"spl": 0.9, "auroc": 0.5},
        "3": {"spl": 1.18, "auroc": 0.8, "mase": 2.0},
        "4": {"spl": 0.2},
    }
    shift = "live spl worse than its test value 0.165 beyond the interval: ..."
    log = decisions(
        ("2", "retrained", [shift], "1"),  # shift-judged, champion 1 before it
        ("3", "retrained", ["drift: 6 of 10 features above their bars"], "2"),  # shift-judged again
        ("4", "retrained", ["12 months closed since the data it was trained on"], "3"),  # time alone
        ("5", "failed", [shift], "4"),
    )
    reference, source = reference_metrics("3", tests, log, recent_months=3)
    assert source == "1" and reference == {"spl": 0.165, "auroc": 0.8, "mase": 2.0}  # the better of each
    worse = live([("2026-01-01", 0.4, 0.35, 0.45), ("2026-02-01", 0.42, 0.37, 0.47)], metric="spl")
    rules = RetrainPolicy(metric="spl", tolerance=0.1, months_in_a_row=2, min_rows=30)
    assert metric_trigger(rules, worse, tests["3"]) is None  # its own shocked test value: blind
    assert metric_trigger(rules, worse, reference) is not None
    assert reference_metrics("4", tests, log, recent_months=3) == (tests["4"], None)
    assert reference_metrics("1", tests, log, recent_months=3) == (tests["1"], None)
    assert reference_metrics("3", tests, log, recent_months=None) == (tests["3"], None)
    assert reference_metrics("3", tests, decisions(), recent_months=3) == (tests["3"], None)


def test_a_seasonal_metric_is_held_to_the_same_month_of_its_test_year() -> None:
    """The market's autumn: 0.16 over the test year, but its September and October scored 0.20 and 0.21 with
    intervals up to 0.23; a calm autumn at 0.24 [0.22, 0.26] is no alarm against its own months, yet it is
    against the year's value, and a shocked autumn (1.2) is an alarm either way."""
    rules = RetrainPolicy(metric="spl", tolerance=0.1, months_in_a_row=2, min_rows=30, reference="seasonal")
    test = {"spl": 0.16}
    seasonal = {(9, "spl"): (0.20, 0.17, 0.23), (10, "spl"): (0.21, 0.18, 0.23), (3, "spl"): (0.10, 0.09, 0.11)}
    calm = live([("2025-09-01", 0.24, 0.22, 0.26), ("2025-10-01", 0.24, 0.22, 0.26)], metric="spl")
    shocked = live([("2025-09-01", 1.2, 1.1, 1.3), ("2025-10-01", 1.25, 1.15, 1.35)], metric="spl")
    assert metric_trigger(rules, calm, test) is not None
    assert metric_trigger(rules, calm, test, seasonal) is None
    reason = metric_trigger(rules, shocked, test, seasonal)
    assert reason is not None and reason.startswith("live spl") and "Sep of its test year 0.2" in reason
    # a month the test year lacks falls back to the test value; a spring month worse than its own spring fires
    spring = live([("2026-03-01", 0.15, 0.13, 0.17), ("2026-04-01", 0.2, 0.18, 0.22)], metric="spl")
    assert metric_trigger(rules, spring, test, seasonal) is not None
    assert metric_trigger(rules, spring, {"spl": 0.3}, seasonal) is None


def test_time_alone_asks_again_twelve_months_after_the_latest_retrain_not_every_month() -> None:
    """A champion trained on data to 2024-12 that no retrain has beaten: the 12-month trigger fired in 2025-12,
    the retrain lost at the gate; the next month counts from that retrain (1), not from the champion's data
    (13). A failed retrain or a skipped step does not count; without decisions the champion's data does."""
    log = pd.DataFrame(
        {
            "action": ["skipped", "retrained", "failed"],
            "data_month": pd.to_datetime(["2025-11-01", "2025-12-01", "2026-02-01"]),
        }
    )
    cutoff, now = pd.Timestamp("2024-12-01"), pd.Timestamp("2026-01-01")
    assert months_since_training(cutoff, log, now) == 1
    assert months_since_training(cutoff, log.iloc[[0, 2]], now) == 13
    assert months_since_training(cutoff, log.iloc[:0], now) == 13
    assert months_since_training(None, log, now) == 1
    assert months_trigger(RetrainPolicy(new_months=12), months_since_training(cutoff, log, now)) is None


def test_a_live_trigger_a_retrain_has_answered_does_not_fire_again_on_the_same_months() -> None:
    """Grazing's outcomes come once a season: after a retrain on 'live mae worse ... 2026-06', the same
    words next month are no new evidence; a new month's evidence, drift and time still fire."""
    stale = "live mae worse than its test value 33.08 beyond the interval: 2026-06 52.8 [47.1, 58.9]"
    fresh = "live mae worse than its test value 33.08 beyond the interval: 2027-06 55.0 [49.0, 61.0]"
    drifted = "drift: 6 of 10 features above their bars (at least 50% set): rain"
    log = pd.DataFrame(
        {"action": ["retrained", "skipped"], "triggers": [[stale, drifted], []]},
    )
    assert new_evidence([stale, drifted, "12 months closed"], log) == [drifted, "12 months closed"]
    assert new_evidence([fresh], log) == [fresh]
    assert new_evidence([stale], log.iloc[1:]) == [stale]  # a skipped step answered nothing
    assert new_evidence([stale], log.iloc[:0]) == [stale]
