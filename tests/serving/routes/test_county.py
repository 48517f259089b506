"""County routes for the page: what a key may use (GET /v1/county/access) and the compact map summary."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from muzhang.domain import RiskBands
from serving.deps import AppState
from serving.errors import Unavailable
from serving.scoring.county_summary import county_summary


@pytest.mark.parametrize(
    ("role", "families"),
    [
        ("planner", {"grazing", "market", "dispute"}),
        ("data_scientist", {"grazing", "market", "dispute"}),
        ("health", {"disease"}),
    ],
)
def test_access_names_the_role_and_only_its_families(
    client: TestClient, auth: Any, serving_state: AppState, role: str, families: set[str]
) -> None:
    response = client.get("/v1/county/access", headers=auth(role))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == role
    assert set(body["families"]) == families
    assert body["reports"] is False and body["data_quality"] is False  # this app reads a directory, no store
    assert body["data_as_of"] == serving_state.county.last_month.date().isoformat()
    assert set(body["risk_bands"]) <= families


def test_access_gives_health_staff_the_disease_band_cutoffs(
    client: TestClient, auth: Any, serving_state: AppState
) -> None:
    body = client.get("/v1/county/access", headers=auth("health")).json()

    fitted = serving_state.registry.get("disease").bundle.thresholds["condition_bands"]
    shown = {c["condition"]: c for c in body["condition_bands"]["disease"]}
    assert set(shown) == set(fitted)
    for condition, cuts in fitted.items():
        RiskBands(medium=cuts["medium"], high=cuts["high"])  # ordered inside (0, 1)
        assert (shown[condition]["medium"], shown[condition]["high"]) == (cuts["medium"], cuts["high"])
        assert shown[condition]["horizon_years"] == 5 and shown[condition]["policy"] == cuts["policy"]
    assert "disease" not in body["risk_bands"]  # one pair for every condition is gone


def test_access_without_key_returns_401(client: TestClient) -> None:
    assert client.get("/v1/county/access").status_code == 401


def test_summary_matches_every_grids_assessment_and_risk(client: TestClient, auth: Any, grid_ids: list[str]) -> None:
    response = client.get("/v1/county/summary", params={"season": "cold"}, headers=auth("planner"))

    assert response.status_code == 200, response.text
    body = response.json()
    grazing, dispute = body["grazing"], body["dispute"]
    assert sorted(grazing["grid_ids"]) == sorted(grid_ids) == sorted(dispute["grid_ids"])
    items = [{"grid_id": g, "season": "cold"} for g in grid_ids[:40]]
    assessed = {
        a["grid_id"]: a
        for a in client.post("/v1/grazing/batch", json={"items": items}, headers=auth("planner")).json()["items"]
    }
    risks = {
        r["grid_id"]: r
        for r in client.post("/v1/dispute/batch", json={"grid_ids": grid_ids[:40]}, headers=auth("planner")).json()[
            "items"
        ]
    }
    for i, grid_id in enumerate(grazing["grid_ids"]):
        if grid_id not in assessed:
            continue
        a = assessed[grid_id]
        assert grazing["pressure"][i] == pytest.approx(a["pressure"], abs=1e-3), grid_id
        assert grazing["status"][i] == a["status"], grid_id
        assert grazing["action"][i] == a["advice"]["action"], grid_id
        assert grazing["su_to_move"][i] == pytest.approx(a["advice"]["su_to_move"], abs=0.1), grid_id
    assert grazing["season"] == "cold" and grazing["as_of_month"] == a["as_of_month"]
    for i, grid_id in enumerate(dispute["grid_ids"]):
        if grid_id in risks:
            assert dispute["probability"][i] == pytest.approx(risks[grid_id]["probability"], abs=1e-4), grid_id
            assert dispute["band"][i] == risks[grid_id]["band"], grid_id
    assert body["unavailable"] == {}


def test_summary_is_a_fraction_of_the_explained_batch(client: TestClient, auth: Any, grid_ids: list[str]) -> None:
    summary = client.get("/v1/county/summary", headers=auth("planner"))
    items = [{"grid_id": g, "season": "warm"} for g in grid_ids[:40]]
    batch = client.post("/v1/grazing/batch", json={"items": items}, headers=auth("planner"))

    per_grid_summary = len(summary.content) / len(grid_ids)
    per_grid_batch = len(batch.content) / len(items)
    assert per_grid_summary < per_grid_batch / 10, (per_grid_summary, per_grid_batch)


def test_summary_refuses_health_staff_with_403(client: TestClient, auth: Any) -> None:
    assert client.get("/v1/county/summary", headers=auth("health")).status_code == 403


def test_summary_refuses_an_unknown_season_with_422(client: TestClient, auth: Any) -> None:
    response = client.get("/v1/county/summary", params={"season": "monsoon"}, headers=auth("planner"))

    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "query.season"


def test_summary_names_a_family_without_a_model_and_keeps_the_other() -> None:
    class OnlyDisputeMissing:
        def served(self, family: str) -> Any:
            raise Unavailable(f"no champion for {family}")

    summary = county_summary(OnlyDisputeMissing(), "warm")  # type: ignore[arg-type]

    assert summary["grazing"] is None and summary["dispute"] is None
    assert set(summary["unavailable"]) == {"grazing", "dispute"}
    assert "no champion for dispute" in summary["unavailable"]["dispute"]
