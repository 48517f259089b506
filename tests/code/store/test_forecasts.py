"""The forecast log: kept once per (family, version, target, key), outcomes joined once, decisions kept."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from muzhang.store import Store
from muzhang.store.forecasts import (
    read_decisions,
    read_forecasts,
    record_decision,
    record_forecasts,
    record_outcomes,
    series_key,
)


def batch(version: str = "1", grids: tuple[str, ...] = ("G001", "G002")) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "family": "dispute",
            "model_version": version,
            "target_period": pd.Timestamp("2020-01-01"),
            "series_key": [series_key(["grid_id", "month"], [g, pd.Timestamp("2020-01-01")]) for g in grids],
            "as_of_month": pd.Timestamp("2019-12-01"),
            "prediction": [json.dumps({"any_dispute": {"point": 0.1 * (i + 1)}}) for i in range(len(grids))],
            "input_fingerprint": "f" * 64,
        }
    )


def test_series_key_is_plain_json_with_iso_dates() -> None:
    key = series_key(["grid_id", "month", "horizon"], ["G001", pd.Timestamp("2020-01-01"), pd.Series([3]).iloc[0]])
    assert json.loads(key) == {"grid_id": "G001", "month": "2020-01-01", "horizon": 3}


def test_a_batch_logged_twice_is_kept_once_and_another_version_beside_it(store: Store) -> None:
    assert record_forecasts(store, batch()) == 2
    assert record_forecasts(store, batch()) == 0  # a close run again: nothing duplicated
    assert record_forecasts(store, batch(grids=("G001", "G003"))) == 1  # only the new key
    assert record_forecasts(store, batch(version="2")) == 2  # a new champion's forecasts sit beside the old
    logged = read_forecasts(store, "dispute")
    assert len(logged) == 5 and logged["outcome"].isna().all()
    assert sorted(logged["model_version"].unique()) == ["1", "2"]
    assert logged["target_period"].iloc[0] == pd.Timestamp("2020-01-01")


def test_outcomes_join_once_and_never_overwrite(store: Store) -> None:
    record_forecasts(store, batch())
    ids = read_forecasts(store)["id"].tolist()
    assert record_outcomes(store, [(ids[0], json.dumps({"any_dispute": 1.0}))]) == 1
    assert record_outcomes(store, [(ids[0], json.dumps({"any_dispute": 0.0}))]) == 0  # joined before
    joined = read_forecasts(store, pending=False)
    assert len(joined) == 1 and json.loads(joined["outcome"].iloc[0]) == {"any_dispute": 1.0}
    assert read_forecasts(store, pending=True)["id"].tolist() == ids[1:]
    assert json.loads(joined["prediction"].iloc[0]) == {"any_dispute": {"point": 0.1}}  # the forecast unchanged


def test_a_row_without_its_key_is_refused_naming_the_row_and_field(store: Store) -> None:
    bad = batch()
    bad.loc[1, "series_key"] = ""
    with pytest.raises(ValueError, match="forecast row 1: empty series_key"):
        record_forecasts(store, bad)
    assert read_forecasts(store).empty  # nothing of the batch was written
    with pytest.raises(ValueError, match="lack column"):
        record_forecasts(store, batch().drop(columns=["prediction"]))


def test_retrain_decisions_are_kept_in_order(store: Store) -> None:
    record_decision(store, family="dispute", action="skipped", triggers=[], note="no trigger fired")
    record_decision(
        store,
        family="dispute",
        action="retrained",
        triggers=["drift"],
        note="gate: promoted",
        version="2",
        promoted=True,
        data_month="2020-02",
    )
    decisions = read_decisions(store, "dispute")
    assert decisions["action"].tolist() == ["skipped", "retrained"]
    assert json.loads(decisions["triggers"].iloc[1]) == ["drift"] and bool(decisions["promoted"].iloc[1])
    assert read_decisions(store, "dispute", last=1)["action"].tolist() == ["retrained"]
    with pytest.raises(ValueError, match="action 'maybe'"):
        record_decision(store, family="dispute", action="maybe", triggers=[], note="")


def test_a_decision_keeps_the_gates_numbers_as_json(store: Store) -> None:
    gate = {"metric": "spl", "candidate": {"spl": 0.174}, "champion": {"spl": 0.176}, "champion_version": "3"}
    gate["months"] = ["2026-04", "2026-06"]
    record_decision(store, family="market", action="retrained", triggers=["live spl"], note="gate", gate_metrics=gate)
    record_decision(store, family="market", action="skipped", triggers=[], note="no trigger fired")
    kept = read_decisions(store, "market")["gate_metrics"].tolist()
    assert json.loads(kept[0]) == gate and kept[1] is None
