"""Disease routes (health staff only): JSON records and CSV upload, ranked risks with bands."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from muzhang.domain import RiskBands
from serving.deps import AppState

BAND_ORDER = {"low": 0, "medium": 1, "high": 2}


def assert_disease_response(body: dict[str, Any], n: int, conditions: set[str], bands: Any) -> None:
    assert body["n"] == n == len(body["results"])
    assert sorted(r["index"] for r in body["results"]) == list(range(n))
    tops = [r["risks"][0]["probability"] for r in body["results"]]
    assert tops == sorted(tops, reverse=True), "people are not ranked by their highest risk"
    for result in body["results"]:
        risks = result["risks"]
        assert {r["condition"] for r in risks} == conditions
        assert [r["probability"] for r in risks] == sorted((r["probability"] for r in risks), reverse=True)
        for risk in risks:
            assert 0 <= risk["probability"] <= 1
            assert risk["band"] == RiskBands(**bands).band(risk["probability"])
            assert risk["explanation"]["sentence"]
        assert result["highest_band"] == max((r["band"] for r in risks), key=BAND_ORDER.__getitem__)


def test_disease_score_health_worker_gets_every_condition_ranked(
    client: TestClient, auth: Any, patient_record: dict[str, Any], serving_state: AppState
) -> None:
    minimal = {"ref": "rec-002", "age": 9, "sex": "male"}

    response = client.post("/v1/disease/score", json={"records": [patient_record, minimal]}, headers=auth("health"))

    assert response.status_code == 200, response.text
    bundle = serving_state.registry.get("disease").bundle
    assert_disease_response(response.json(), 2, set(bundle.tasks), bundle.thresholds.get("risk_bands"))
    by_index = {r["index"]: r for r in response.json()["results"]}
    assert by_index[0]["ref"] == "rec-001" and by_index[1]["ref"] == "rec-002"


def test_disease_score_csv_scores_every_row_like_the_json_route(
    client: TestClient, auth: Any, patient_record: dict[str, Any], serving_state: AppState
) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(patient_record))
    writer.writeheader()
    for i in range(3):
        writer.writerow({**patient_record, "ref": f"csv-{i}", "age": 30 + 10 * i})
    rows = [{**patient_record, "ref": f"csv-{i}", "age": 30 + 10 * i} for i in range(3)]

    response = client.post(
        "/v1/disease/score-csv",
        files={"file": ("checks.csv", buffer.getvalue().encode(), "text/csv")},
        headers=auth("health"),
    )
    as_json = client.post("/v1/disease/score", json={"records": rows}, headers=auth("health"))

    assert response.status_code == 200, response.text
    bundle = serving_state.registry.get("disease").bundle
    assert_disease_response(response.json(), 3, set(bundle.tasks), bundle.thresholds.get("risk_bands"))
    assert response.json() == as_json.json()
