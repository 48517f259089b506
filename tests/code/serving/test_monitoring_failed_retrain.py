"""A failed retrain is evidence (issue 11): a champion a live-alarm retrain could not beat on the recent months is
held, from then on, to its own score on those months; a promoted retrain raises nothing. The score is the gate's
number kept with the decision (``gate_metrics``, migration 0004), never read back from the note's words."""

from __future__ import annotations

import pandas as pd

from serving.monitoring.policy import (
    MonitoringPolicy,
    RetrainPolicy,
    champion_score_on,
    failed_retrain,
    gate_record,
    metric_trigger,
    raise_reference,
    raise_seasonal,
    retrain_triggers,
)

ALARM = "live spl worse than test beyond the intervals: 2026-05 0.21 [0.2, 0.22] against May of its test year ..."
LOST = (
    "gate: spl 0.174 does not beat champion v3 0.176 by margin 0.005; "
    "fails spl 0.174 vs champion v3 0.176, mase 1.02 vs champion v3 0.98"
)
WON = "gate: spl 0.15 beats champion v3 0.176 by margin 0.005; passes mase, spl against 3 references"
RULES = RetrainPolicy(
    metric="spl", tolerance=0.1, months_in_a_row=2, min_rows=20, recent_months=3, drifted_share=None, new_months=None
)


def gate(champion: dict[str, float], months: list[str] | None = None, version: str = "3") -> dict[str, object]:
    """The gate's numbers as `muzhang retrain` keeps them (training.gate.GateDecision.gate_metrics + months)."""
    return {
        "metric": "spl",
        "candidate": {"spl": 0.174, "mase": 1.02},
        "champion": champion,
        "champion_version": version,
        "months": months,
    }


LOST_GATE = gate({"spl": 0.176, "mase": 0.98}, ["2026-04", "2026-06"])


def decision(
    version: str,
    promoted: bool | None,
    note: str,
    triggers: list[str],
    month: str = "2026-06-01",
    gate_metrics: object = LOST_GATE,
) -> dict[str, object]:
    return {
        "version": version,
        "action": "retrained" if promoted is not None else "failed",
        "promoted": promoted,
        "champion_before": "3",
        "triggers": triggers,
        "note": note,
        "data_month": pd.Timestamp(month),
        "gate_metrics": gate_metrics if promoted is not None else None,
    }


def log(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def live(values: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"metric": "spl", "target_period": pd.Timestamp(m), "value": v, "low": lo, "high": hi, "n": 96}
            for m, v, lo, hi in values
        ]
    )


def test_the_champions_score_is_the_gates_number_for_that_version() -> None:
    assert champion_score_on(LOST_GATE, "3", "spl") == 0.176
    assert champion_score_on(LOST_GATE, "3", "mase") == 0.98
    assert champion_score_on(LOST_GATE, "31", "spl") is None  # the gate judged v3, says nothing of v31
    assert champion_score_on(gate({"spl": None}), "3", "spl") is None  # the champion could not be scored
    assert champion_score_on(gate(None), "3", "spl") is None  # a first model: no champion
    assert champion_score_on(None, "3", "spl") is None
    # stored as JSON text; a decision kept before the column existed reads NULL (None, or NaN in a frame)
    assert gate_record('{"metric": "spl", "champion_version": "3"}') == {"metric": "spl", "champion_version": "3"}
    assert gate_record(None) is None and gate_record(float("nan")) is None and gate_record("not json") is None


def test_a_decision_without_gate_numbers_is_no_evidence_even_if_its_note_has_them() -> None:
    """Decisions kept before migration 0004 have only words: they are not parsed, so they raise nothing."""
    old = decision("7", False, LOST, [ALARM], gate_metrics=None)
    assert failed_retrain(log(old), "3", "spl", 3) is None
    usual_split = decision("7", False, LOST, [ALARM], gate_metrics=gate({"spl": 0.176}, None))
    assert failed_retrain(log(usual_split), "3", "spl", 3) is None  # judged on the usual split, not recent months


def test_a_failed_retrain_raises_the_plain_reference_and_silences_the_same_level_alarm() -> None:
    """The county got harder: v3 scored 0.176 on 2026-04..06 and a retrained model could not beat it, so live
    months at 0.19-0.2 (worse than its test 0.14 beyond the interval) are what the county allows now."""
    held = failed_retrain(log(decision("7", False, LOST, [ALARM])), "3", "spl", 3)
    assert held is not None and held.score == 0.176
    assert (str(held.first), str(held.last)) == ("2026-04", "2026-06")
    words = held.words()
    assert "v3's spl 0.176 on 2026-04..2026-06 after a retrain could not beat it" in words
    test = {"spl": 0.14, "mase": 0.9}
    raised = raise_reference(test, held)
    assert raised == {"spl": 0.176, "mase": 0.9}
    assert raise_reference({"spl": 0.2}, held) == {"spl": 0.2}  # never lowered
    same = live([("2026-07-01", 0.19, 0.18, 0.2), ("2026-08-01", 0.2, 0.19, 0.21)])
    assert metric_trigger(RULES, same, test) is not None  # as before: an alarm every month
    assert metric_trigger(RULES, same, raised) is None


def test_a_live_metric_worse_than_the_raised_reference_still_fires() -> None:
    held = failed_retrain(log(decision("7", False, LOST, [ALARM])), "3", "spl", 3)
    raised = raise_reference({"spl": 0.14}, held)
    worse = live([("2026-07-01", 0.3, 0.27, 0.33), ("2026-08-01", 0.32, 0.29, 0.35)])
    fired = retrain_triggers(MonitoringPolicy(retrain=RULES), worse, raised, pd.DataFrame(), None)
    assert len(fired) == 1 and fired[0].startswith("live spl worse than its test value 0.176")


def test_a_failed_retrain_scales_the_seasonal_reference_by_the_recent_months() -> None:
    """Seasonal: the judged months 2026-04..06 average 0.11 in the test year, the champion scored 0.176 on them
    (x1.6); each month of the test year, interval too, is scaled by that; a harder test year is not lowered."""
    held = failed_retrain(log(decision("7", False, LOST, [ALARM])), "3", "spl", 3)
    year = {(4, "spl"): (0.10, 0.09, 0.11), (5, "spl"): (0.11, 0.10, 0.12), (6, "spl"): (0.12, 0.11, 0.13)}
    year |= {(9, "spl"): (0.20, 0.18, 0.22), (9, "mase"): (1.0, 0.9, 1.1)}
    scaled, factor = raise_seasonal(year, held)
    assert abs(factor - 1.6) < 1e-9
    assert scaled[(9, "spl")] == tuple(v * factor for v in year[(9, "spl")])
    assert scaled[(9, "mase")] == year[(9, "mase")]
    autumn = live([("2026-09-01", 0.3, 0.28, 0.33), ("2026-10-01", 0.31, 0.29, 0.34)])
    rules = RULES.model_copy(update={"reference": "seasonal"})
    year |= {(10, "spl"): (0.20, 0.18, 0.22)}
    scaled, _ = raise_seasonal(year, held)
    assert metric_trigger(rules, autumn, {"spl": 0.14}, year) is not None
    assert metric_trigger(rules, autumn, {"spl": 0.14}, scaled) is None
    hard = {key: (v * 2, lo * 2, hi * 2) for key, (v, lo, hi) in year.items()}
    assert raise_seasonal(hard, held) == (hard, 1.0)


def test_no_evidence_without_a_failed_live_alarm_retrain_judged_on_the_recent_months() -> None:
    """A promoted retrain raises nothing (the new champion starts from its own test); nor does one asked by
    time alone, a crashed one, another champion's, or a family whose shift retrains use the usual split."""
    assert failed_retrain(log(decision("7", True, WON, [ALARM])), "3", "spl", 3) is None
    assert failed_retrain(log(decision("7", True, WON, [ALARM])), "7", "spl", 3) is None
    assert failed_retrain(log(decision("7", False, LOST, ["12 months closed since the data"])), "3", "spl", 3) is None
    assert failed_retrain(log(decision("7", None, "retrain failed", [ALARM])), "3", "spl", 3) is None
    assert failed_retrain(log(decision("7", False, LOST, [ALARM])), "2", "spl", 3) is None
    assert failed_retrain(log(decision("7", False, LOST, [ALARM])), "3", "spl", None) is None
    assert failed_retrain(log(decision("7", False, LOST, [ALARM])), "3", "brier", 3) is None
    # the latest failed retrain is the evidence: a later one judged on later months replaces an earlier one
    later = gate({"spl": 0.213}, ["2026-07", "2026-09"])
    held = failed_retrain(
        log(decision("7", False, LOST, [ALARM]), decision("8", False, LOST, [ALARM], "2026-09-01", later)),
        "3",
        "spl",
        3,
    )
    assert held is not None and (held.score, str(held.last), held.challenger) == (0.213, "2026-09", "8")


def test_the_evidence_holds_for_as_many_months_as_were_judged_then_the_monitor_may_ask_again() -> None:
    """Judged on 2026-04..06: live months 2026-07..09 are held to the champion's recent score; from 2026-10 the
    plain reference returns, so a county still worse can ask for a retrain that has those months to learn from
    (after a shock the first retrain cannot have seen it)."""
    held = failed_retrain(log(decision("7", False, LOST, [ALARM])), "3", "spl", 3)
    assert held is not None and str(held.until) == "2026-09"
    assert [held.holds(pd.Timestamp(m)) for m in ("2026-06-01", "2026-07-01", "2026-09-01", "2026-10-01")] == [
        False,
        True,
        True,
        False,
    ]
    assert "until 2026-09" in held.words()
