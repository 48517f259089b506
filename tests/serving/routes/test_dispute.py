"""Dispute routes: one grid's risk, a batch, and the ranked watch-list."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from muzhang.domain import RiskBands
from serving.deps import AppState


def test_dispute_risk_planner_gets_probability_band_and_reasons(
    client: TestClient, auth: Any, grid_ids: list[str], serving_state: AppState
) -> None:
    response = client.get(f"/v1/dispute/risk/{grid_ids[0]}", headers=auth("planner"))

    assert response.status_code == 200, response.text
    risk = response.json()
    assert risk["grid_id"] == grid_ids[0] and risk["grid_name"]
    assert 0 <= risk["probability"] <= 1
    bands = serving_state.registry.get("dispute").bundle.thresholds.get("risk_bands")
    assert risk["band"] == RiskBands(**bands).band(risk["probability"])
    assert risk["explanation"]["reasons"] and risk["explanation"]["sentence"]


def test_dispute_batch_answers_each_grid_once_in_request_order(
    client: TestClient, auth: Any, grid_ids: list[str]
) -> None:
    asked = [grid_ids[3], grid_ids[0], grid_ids[3], grid_ids[5]]

    response = client.post("/v1/dispute/batch", json={"grid_ids": asked}, headers=auth("planner"))

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["grid_id"] for i in items] == [grid_ids[3], grid_ids[0], grid_ids[5]]
    assert all(0 <= i["probability"] <= 1 for i in items)


def test_dispute_watchlist_ranks_grids_by_probability_and_respects_top(client: TestClient, auth: Any) -> None:
    response = client.get("/v1/dispute/watchlist", params={"top": 7}, headers=auth("planner"))

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["rank"] for i in items] == list(range(1, 8))
    probabilities = [i["probability"] for i in items]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0 <= p <= 1 for p in probabilities) and all(i["reason"] for i in items)


def test_dispute_watchlist_top_matches_individual_risks(client: TestClient, auth: Any) -> None:
    """The watch-list's first entry is the grid with the highest single-grid risk in the county."""
    everyone = client.get("/v1/dispute/watchlist", params={"top": 457}, headers=auth("planner")).json()["items"]
    first = everyone[0]

    single = client.get(f"/v1/dispute/risk/{first['grid_id']}", headers=auth("planner")).json()

    assert single["probability"] == pytest.approx(first["probability"])
    assert first["probability"] == max(i["probability"] for i in everyone)


def test_dispute_watchlist_for_one_township_lists_only_its_grids(
    client: TestClient, auth: Any, serving_state: AppState
) -> None:
    township = str(serving_state.county.grids["township_id"].value_counts().index[0])

    response = client.get("/v1/dispute/watchlist", params={"township_id": township}, headers=auth("planner"))

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    expected = int((serving_state.county.grids["township_id"] == township).sum())
    assert len(items) == expected and {i["township_id"] for i in items} == {township}


def test_dispute_answers_say_the_recent_level_their_risks_are_put_at(
    client: TestClient, auth: Any, grid_ids: list[str], serving_state: AppState
) -> None:
    level = serving_state.registry.get("dispute").bundle.tasks["any_dispute"].level
    assert level is not None  # experiments/dispute.yaml: recent_level_months

    listed = client.get("/v1/dispute/watchlist", params={"top": 3, "lang": "en"}, headers=auth("planner")).json()
    single = client.get(f"/v1/dispute/risk/{grid_ids[0]}", params={"lang": "zh"}, headers=auth("planner")).json()

    for answer in (listed["level"], single["level"]):
        assert (answer["first"], answer["last"]) == (level.first, level.last)
        assert answer["odds_ratio"] == pytest.approx(math.exp(level.offset))
    assert f"last {level.window} closed months ({level.first} to {level.last})" in listed["level"]["text"]
    assert f"最近{level.window}个已关闭月份" in single["level"]["text"]
