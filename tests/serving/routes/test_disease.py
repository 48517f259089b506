"""Disease routes (health staff only): JSON records and CSV upload, ranked risks with bands."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
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


# --- one rule for numbers, JSON and CSV alike (issue 14, item 18) ---------------------------------------
def test_csv_whole_floats_are_scored_like_json_numbers(client: TestClient, auth: Any) -> None:
    csv_text = "ref,age,sex,dogs_owned,systolic_bp,bmi\nw-1,52.0,male,3.0,134.00,23\n"
    record = {"ref": "w-1", "age": 52, "sex": "male", "dogs_owned": 3, "systolic_bp": 134, "bmi": 23.0}

    from_csv = client.post(
        "/v1/disease/score-csv", files={"file": ("c.csv", csv_text.encode(), "text/csv")}, headers=auth("health")
    )
    from_json = client.post("/v1/disease/score", json={"records": [record]}, headers=auth("health"))
    from_json_floats = client.post(
        "/v1/disease/score", json={"records": [{**record, "age": 52.0, "dogs_owned": 3.0}]}, headers=auth("health")
    )

    assert from_csv.status_code == 200, from_csv.text
    assert from_csv.json() == from_json.json() == from_json_floats.json()


@pytest.mark.parametrize(
    ("field", "cell", "rule"),
    [
        ("age", "²", "whole number written in digits 0-9"),
        ("age", "٣٤", "whole number written in digits 0-9"),
        ("age", "52.5", "whole number written in digits 0-9"),
        ("bmi", "²", "number written in digits 0-9"),
        ("bmi", "1_000", "number written in digits 0-9"),
    ],
)
def test_csv_cell_that_is_no_plain_number_names_row_field_value_and_rule(
    client: TestClient, auth: Any, field: str, cell: str, rule: str
) -> None:
    row = {"age": "40", "sex": "male", "bmi": "22", field: cell}
    csv_text = ",".join(row) + "\n" + ",".join(row.values()) + "\n"

    response = client.post(
        "/v1/disease/score-csv", files={"file": ("c.csv", csv_text.encode(), "text/csv")}, headers=auth("health")
    )

    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert (problem["row"], problem["field"], problem["value"]) == (2, field, cell)
    assert rule in problem["rule"] and "literal" not in problem["rule"]
