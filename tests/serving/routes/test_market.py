"""Market routes: forecast with quantiles and reasons, batch, recorded history."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from muzhang.settings import Settings
from serving.app import create_app
from serving.deps import AppState
from serving.routes.market import forecast_values

SPECIES = ("yak", "sheep", "goat", "horse")


def assert_forecast_points_ordered(points: list[dict[str, Any]]) -> None:
    assert [p["horizon"] for p in points] == list(range(1, len(points) + 1))
    months = [p["target_month"] for p in points]
    assert months == sorted(months) and len(set(months)) == len(months)
    for point in points:
        levels = sorted(point["quantiles"])  # q005 < q025 < ... as zero-padded labels
        values = [point["quantiles"][q] for q in levels]
        assert values == sorted(values), f"quantiles cross: {point['quantiles']}"
        assert point["quantiles"]["q500"] == pytest.approx(point["median"])
        assert point["explanation"]["sentence"]


@pytest.mark.parametrize("species", SPECIES)
def test_market_forecast_planner_gets_six_months_of_sales_and_price(
    client: TestClient, auth: Any, township_ids: list[str], species: str
) -> None:
    response = client.get(
        "/v1/market/forecast", params={"township_id": township_ids[0], "species": species}, headers=auth("planner")
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["township_id"] == township_ids[0] and body["species"] == species
    for task in ("head_sold", "price"):
        assert 1 <= len(body[task]) <= 6
        assert_forecast_points_ordered(body[task])
    assert all(p["median"] > 0 for p in body["price"])


def test_market_batch_answers_each_item_in_order(client: TestClient, auth: Any, township_ids: list[str]) -> None:
    items = [{"township_id": township_ids[0], "species": "yak"}, {"township_id": township_ids[1], "species": "sheep"}]

    response = client.post("/v1/market/batch", json={"items": items}, headers=auth("planner"))

    assert response.status_code == 200, response.text
    out = response.json()["items"]
    assert [(i["township_id"], i["species"]) for i in out] == [(q["township_id"], q["species"]) for q in items]


def test_market_history_returns_recorded_months_oldest_first(
    client: TestClient, auth: Any, township_ids: list[str]
) -> None:
    response = client.get(
        "/v1/market/history",
        params={"township_id": township_ids[0], "species": "yak", "months": 12},
        headers=auth("planner"),
    )

    assert response.status_code == 200, response.text
    points = response.json()["points"]
    assert 0 < len(points) <= 12
    assert [p["month"] for p in points] == sorted(p["month"] for p in points)
    assert all(p["head_sold"] >= 0 and p["price_yuan_per_head"] > 0 for p in points)


def test_market_head_sold_forecast_is_never_negative(client: TestClient, auth: Any, township_ids: list[str]) -> None:
    """Head sold is a count: a conformal shift below zero on the log1p scale must not show "-0 head"."""
    items = [{"township_id": t, "species": s} for t in township_ids[:4] for s in SPECIES]

    response = client.post("/v1/market/batch", json={"items": items}, headers=auth("planner"))

    assert response.status_code == 200, response.text
    negative = [
        (f["township_id"], f["species"], p["horizon"], q, v)
        for f in response.json()["items"]
        for p in f["head_sold"]
        for q, v in {**p["quantiles"], "median": p["median"]}.items()
        if v < 0
    ]
    assert not negative, f"negative head sold: {negative[:5]}"


# --- batches capped by cost (issue 14, item 16) ---------------------------------------------------------
def test_market_batch_is_capped_by_forecast_values_not_item_count(
    serving_state: AppState, auth: Any, township_ids: list[str]
) -> None:
    per_item = forecast_values(serving_state.registry.get("market").bundle, 1)
    settings = serving_state.settings.model_copy(update={"market_batch_cost_cap": 2 * per_item})
    items = [{"township_id": township_ids[0], "species": s} for s in SPECIES[:3]]
    with TestClient(create_app(state=replace(serving_state, settings=settings))) as client:
        two = client.post("/v1/market/batch", json={"items": items[:2]}, headers=auth("planner"))
        three = client.post("/v1/market/batch", json={"items": items}, headers=auth("planner"))

    assert two.status_code == 200, two.text
    assert three.status_code == 413  # three items are far below the item cap (50 here): their cost is not
    detail = three.json()["detail"]
    assert "market_batch_cost_cap" in detail and f"{2 * per_item:,}" in detail and "at most 2 items" in detail


def test_default_cost_cap_refuses_a_thousand_item_batch(serving_state: AppState) -> None:
    bundle = serving_state.registry.get("market").bundle

    default = Settings.model_fields["market_batch_cost_cap"].default

    assert forecast_values(bundle, 1_000) > default >= forecast_values(bundle, 50)


def test_every_market_answer_gives_reasons_that_add_up(client: TestClient, auth: Any, township_ids: list[str]) -> None:
    """Whichever candidate serves (LightGBM, or the classical forecast whose own terms are all zero), each
    point names at least one reason and base + contributions = raw prediction."""
    answer = client.get(
        "/v1/market/forecast", params={"township_id": township_ids[0], "species": "yak"}, headers=auth("planner")
    ).json()

    for task in ("head_sold", "price"):
        for point in answer[task]:
            expl = point["explanation"]
            assert expl["reasons"], f"{task} h{point['horizon']}: no reason ({expl['sentence']})"
            total = expl["base_value"] + sum(r["contribution"] for r in expl["reasons"])
            assert total == pytest.approx(expl["raw_prediction"], abs=1e-9)
