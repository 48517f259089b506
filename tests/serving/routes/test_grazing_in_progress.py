"""The season under way (the tiny county's data end in December: the winter in progress)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from muzhang.domain import grazing_status


def test_winter_in_progress_for_every_grid_with_forage_left_herd_and_advice(
    client: TestClient, auth: Any, grid_ids: list[str]
) -> None:
    response = client.get("/v1/grazing/in-progress", params={"lang": "en"}, headers=auth("planner"))

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert sorted(i["grid_id"] for i in items) == grid_ids
    for item in items:
        assert item["season"] == "cold" and item["months_left"] == 4
        assert "in progress" in item["period"] and "data to Dec" in item["period"]
        if item["capacity_left_su"] > 0:
            assert item["pressure"] == pytest.approx(item["stocking_su"] / item["capacity_left_su"], rel=1e-9)
        assert item["status"] == str(grazing_status(item["pressure"]))
        assert item["pressure_range"][0] <= item["pressure"] <= item["pressure_range"][1]
        stock, limit = np.floor(item["stocking_su"] + 0.5), np.floor(item["capacity_left_su"] + 1e-9)
        expected = (
            0 if item["advice"]["action"] == "graze" else stock if item["advice"]["action"] == "rest" else stock - limit
        )
        assert item["advice"]["su_to_move"] == expected


def test_winter_in_progress_of_one_grid_and_an_unknown_grid(client: TestClient, auth: Any, grid_ids: list[str]) -> None:
    one = client.get("/v1/grazing/in-progress", params={"grid_id": grid_ids[0]}, headers=auth("planner"))
    assert one.status_code == 200 and [i["grid_id"] for i in one.json()["items"]] == [grid_ids[0]]
    assert "进行中" in one.json()["items"][0]["period"]

    unknown = client.get("/v1/grazing/in-progress", params={"grid_id": "G999"}, headers=auth("planner"))
    assert unknown.status_code == 404 and "G999" in unknown.text


def test_winter_in_progress_is_for_planners_only(client: TestClient, auth: Any) -> None:
    assert client.get("/v1/grazing/in-progress", headers=auth("health")).status_code == 403
